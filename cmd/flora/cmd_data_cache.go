package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/pipeline"
)

// dataCacheCommand fills a job's latent and caption caches ahead of
// training (e.g. on a machine where the text encoder fits, before training
// elsewhere).
func dataCacheCommand() *command {
	return &command{
		name:    "cache",
		summary: "encode a job's images (VAE latents) and captions (text embeddings) into its cache",
		usage:   "data cache --config JOB.yaml [--set path.to.key=value ...]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			config := fs.String("config", "", "job config (required)")
			sets := addSetFlag(fs)
			be := fs.String("backend", "", "backend (default: the job's)")
			return func(args []string) error {
				cfg, err := loadJobFlag(args, *config, *sets)
				if err != nil {
					return err
				}
				if *be != "" {
					cfg.Model.Backend = *be
				}
				return runDataCache(cfg)
			}
		},
	}
}

func runDataCache(cfg *job.Config) error {
	start := time.Now()
	res, err := pipeline.FillCaches(cfg, "", pipeline.Reporter{Log: cliErr})
	if err != nil {
		return err
	}
	fmt.Fprintf(cliOut, "cache %s\n  latents: %s\n  captions: %s\n  %s\n", res.Dir, res.Latents, res.Captions, time.Since(start).Round(time.Millisecond))
	return nil
}

// dataEmbedCommand writes a job's caption embeddings as a table for
// dataset.embeddings.
func dataEmbedCommand() *command {
	return &command{
		name:    "embed",
		summary: "encode a job's captions and prompts into an embedding table (for dataset.embeddings)",
		usage:   "data embed --config JOB.yaml --out TABLE.safetensors [--set path.to.key=value ...]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			config := fs.String("config", "", "job config (required)")
			out := fs.String("out", "", "table to write (required)")
			sets := addSetFlag(fs)
			be := fs.String("backend", "", "backend (default: the job's)")
			return func(args []string) error {
				if len(args) != 0 || *config == "" || *out == "" {
					return usageErrorf("expected --config and --out")
				}
				cfg, err := job.Load(*config, *sets)
				if err != nil {
					return err
				}
				res, err := pipeline.WriteEmbeddings(cfg, *out, *be, pipeline.Reporter{Log: cliErr})
				if err != nil {
					return err
				}
				fmt.Fprintf(cliOut, "wrote %s: %d prompts\n", res.Path, len(res.Prompts))
				return nil
			}
		},
	}
}
