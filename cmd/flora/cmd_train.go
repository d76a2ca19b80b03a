package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/pipeline"
)

type trainFlags struct {
	config      string
	sets        []string
	printConfig bool
	dryRun      bool
	resume      string
	overwrite   bool
	backend     string
	devices     string
	memBudget   float64
}

func init() {
	register(&command{
		name:    "train",
		summary: "train a LoRA adapter for a FLUX.2 model (or, with kind: autoencoder, a small autoencoder) from a job config",
		usage:   "train --config JOB.yaml [--set path.to.key=value ...] [--resume auto|DIR | --overwrite] [--dry-run] [--print-config]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			f := &trainFlags{}
			fs.StringVar(&f.config, "config", "", "job config (YAML; required)")
			f.sets = nil
			setFlag := addSetFlag(fs)
			fs.BoolVar(&f.printConfig, "print-config", false, "print the resolved config and exit")
			fs.BoolVar(&f.dryRun, "dry-run", false, "check the job and print its memory plan without training")
			fs.StringVar(&f.resume, "resume", "", "continue from a checkpoint folder, or \"auto\" for the newest in the run's output")
			fs.BoolVar(&f.overwrite, "overwrite", false, "replace an earlier run in output.dir (its checkpoints, previews, metrics and adapter; the caches stay)")
			fs.StringVar(&f.backend, "backend", "", "override model.backend: auto, go, xla:cpu, xla:cuda")
			fs.StringVar(&f.devices, "devices", "", "override train.devices: split each step over N devices, or all (data parallel; docs/multi-gpu.md)")
			gibFlag(fs, &f.memBudget, []string{"memory-budget", "gpu-memory"}, 0, memoryBudgetRange,
				"device memory in GiB to plan for, e.g. 16 or 16GiB (default: the device's, when known); the plan resolves offload and block swap against it")
			return func(args []string) error {
				if len(args) != 0 {
					return usageErrorf("unexpected arguments %q", args)
				}
				if f.config == "" {
					return usageErrorf("--config is required")
				}
				if f.overwrite && f.resume != "" {
					return usageErrorf("--overwrite starts the run again and --resume continues it: give one of them")
				}
				f.sets = *setFlag
				if f.devices != "" {
					f.sets = append(f.sets, "train.devices="+f.devices)
				}
				return runTrain(f)
			}
		},
	})
}

// memoryBudgetRange bounds --memory-budget in GiB (0: the device's).
var memoryBudgetRange = job.FloatRange{Min: 0, Max: 1 << 16, Hint: "GiB; 0 means the device's"}

func runTrain(f *trainFlags) error {
	cfg, err := job.Load(f.config, f.sets)
	if err != nil {
		return err
	}
	if f.backend != "" {
		cfg.Model.Backend = f.backend
	}
	if f.printConfig {
		return printConfigYAML(cfg)
	}
	if cfg.IsAutoencoder() {
		return runTrainAutoencoder(cfg, f)
	}
	opts := pipeline.RunOptions{MemoryBudget: int64(f.memBudget * (1 << 30)), Resume: f.resume, Overwrite: f.overwrite,
		Reporter: pipeline.Reporter{Log: cliErr}}
	p, err := pipeline.Prepare(cfg, opts)
	if err != nil {
		return err
	}
	if f.dryRun {
		return printDryRun(cfg, p)
	}
	return trainUntilDone(func(ctx context.Context) (string, bool, error) {
		res, err := p.Train(ctx)
		if res == nil {
			return "", false, err
		}
		if res.Summary != nil {
			res.Summary.PrintSummary(cliOut)
		}
		return res.OutDir, res.Interrupted, err
	})
}

// trainUntilDone runs a training run that Ctrl-C or SIGTERM stops (the run
// saves a checkpoint), then prints its folder; a stopped run exits with
// 130 and says how to continue.
func trainUntilDone(run func(ctx context.Context) (outDir string, interrupted bool, err error)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	out, interrupted, err := run(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(cliOut, "run folder: %s (%s)\n", out, time.Since(start).Round(time.Second))
	if interrupted {
		return &exitError{code: 130, msg: "interrupted; resume with --resume auto"}
	}
	return nil
}

// printPrevious lists what --overwrite would remove.
func printPrevious(previous []string) {
	if len(previous) > 0 {
		fmt.Fprintf(cliOut, "--overwrite will remove the earlier run's outputs: %s\n", strings.Join(previous, ", "))
	}
}

// runTrainAutoencoder runs a job of kind autoencoder (docs/autoencoder.md).
func runTrainAutoencoder(cfg *job.Config, f *trainFlags) error {
	opts := pipeline.RunOptions{Resume: f.resume, Overwrite: f.overwrite, Reporter: pipeline.Reporter{Log: cliErr}}
	p, err := pipeline.PrepareAutoencoder(cfg, opts)
	if err != nil {
		return err
	}
	if f.dryRun {
		t := cfg.Train
		fmt.Fprintf(cliOut, "job %s: autoencoder from %s, %d trained parameters (%.1f MiB with AdamW state and gradients), %d images, %d steps of %d crops %dx%d\n",
			cfg.Name, cfg.Model.VAE, p.Params, float64(p.Params*16)/(1<<20), p.Images, t.Steps, t.BatchSize, cfg.Dataset.Resolutions[0], cfg.Dataset.Resolutions[0])
		printPrevious(p.Previous)
		return nil
	}
	return trainUntilDone(func(ctx context.Context) (string, bool, error) {
		res, err := p.Train(ctx)
		if res == nil {
			return "", false, err
		}
		if s := res.Summary; s != nil {
			fmt.Fprintf(cliOut, "steps %d → %d, loss %.5f → %.5f, checkpoint %s\n", s.StartStep, s.EndStep, s.FirstLoss, s.LastLoss, s.LastCheckpoint)
		}
		return res.OutDir, res.Interrupted, err
	})
}

// printDryRun prints a prepared job's memory plan, what --overwrite would
// remove, and whether the job fits the device budget; a job that does not
// fit fails, as its real run would.
func printDryRun(cfg *job.Config, p *pipeline.Prepared) error {
	plan := p.Plan
	per := ""
	if n := plan.Input.Devices; n > 1 {
		per = fmt.Sprintf(" per device (%d devices, base %s)", n, map[bool]string{true: "sharded", false: "on each"}[plan.Input.ShardBase])
	}
	fmt.Fprintf(cliOut, "job %s: %s, rank %d, %d steps\nestimated device memory%s:\n%s", cfg.Name, plan.Variant.Name, cfg.Adapter.Rank, cfg.Train.Steps, per, plan.Memory)
	printPrevious(p.Previous)
	if plan.TextEncoderBytes > 0 {
		fmt.Fprintf(cliOut, "caption caching (before training, text encoder %s): %.2f GiB\n", plan.TextEncoderName, float64(plan.TextEncoderBytes)/(1<<30))
	}
	if err := plan.WriteGrid(cliOut); err != nil {
		return err
	}
	if plan.Budget > 0 {
		fmt.Fprintf(cliOut, "device budget: %.1f GiB — training %s\n", float64(plan.Budget)/(1<<30), plan.TrainingVerdict())
		if plan.TextEncoderBytes > 0 {
			fmt.Fprintf(cliOut, "  caption caching %s\n", plan.TextEncoderVerdict())
		}
		if !plan.Fits() {
			// A real run refuses such a job: so does its dry run.
			return &exitError{code: 1, msg: "the job does not fit the device budget (see above)"}
		}
	}
	return nil
}
