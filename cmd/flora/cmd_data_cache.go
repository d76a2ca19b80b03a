package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
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
				if len(args) != 0 || *config == "" {
					return usageErrorf("expected --config")
				}
				cfg, err := job.Load(*config, *sets)
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
	b, info, err := backend.Select(cfg.Model.Backend)
	if err != nil {
		return err
	}
	fmt.Fprintln(cliErr, info)
	ds, problems, err := data.Scan(pipeline.DatasetConfig(cfg.Dataset))
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(cliErr, p)
	}
	if err := problems.Err(); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	start := time.Now()
	comps, err := bundle.Load(b, bundle.Options{Path: cfg.Model.Path, VAE: cfg.Model.VAE, TextEncoder: cfg.Model.TextEncoder,
		Variant: cfg.Model.Variant, DType: computeDTypeOf(cfg), TextQuant: quant.Scheme(cfg.Model.TextEncoderQuantize),
		SkipTransformer: true})
	if err != nil {
		return err
	}
	dir := cfg.Dataset.CacheDir
	if dir == "" {
		dir = filepath.Join(cfg.Output.Dir, "cache")
	}
	store, err := cache.Open(dir, cache.Options{})
	if err != nil {
		return err
	}
	ls, err := cache.BuildLatents(store, ds, &vaeLatents{v: comps.VAE, id: comps.VAEID}, cache.BuildOptions{BatchSize: 4})
	if err != nil {
		return err
	}
	ts, err := cache.BuildText(store, ds, &promptEmbeddings{p: comps.Text}, cache.BuildOptions{BatchSize: 8})
	if err != nil {
		return err
	}
	freed := comps.Text.Release()
	fmt.Fprintf(cliOut, "cache %s\n  latents: %s\n  captions: %s\n  text encoder released (%.1f MiB); %s\n", dir, ls, ts,
		float64(freed)/(1<<20), time.Since(start).Round(time.Millisecond))
	return nil
}
