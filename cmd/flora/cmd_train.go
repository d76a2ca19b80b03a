package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/train"
)

type trainFlags struct {
	config      string
	sets        []string
	printConfig bool
	dryRun      bool
	resume      string
	overwrite   bool
	backend     string
	memBudget   float64
}

func init() {
	register(&command{
		name:    "train",
		summary: "train a LoRA adapter for a FLUX.2 model from a job config",
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
		text, err := cfg.YAML()
		if err != nil {
			return err
		}
		fmt.Fprint(cliOut, text)
		return nil
	}
	if err := preflight(cfg); err != nil {
		return err
	}
	how := runStart{resume: f.resume}
	if how.candidates, err = resumeCandidates(cfg.Output.Dir, f.resume); err != nil {
		return err
	}
	var previous []string
	if f.resume == "" {
		if previous, err = checkPreviousRun(cfg, f.overwrite); err != nil {
			return err
		}
	}
	be, info, err := backend.Select(cfg.Model.Backend)
	if err != nil {
		return err
	}
	fmt.Fprintln(cliErr, info)
	budget := deviceBudget(info, f.memBudget)
	plan, err := memoryPlan(cfg, budget)
	if err != nil {
		return err
	}
	if f.dryRun {
		fmt.Fprintf(cliOut, "job %s: %s, rank %d, %d steps\nestimated device memory:\n%s", cfg.Name, plan.variant.Name, cfg.Adapter.Rank, cfg.Train.Steps, plan.plan)
		if len(previous) > 0 {
			fmt.Fprintf(cliOut, "--overwrite will remove the earlier run's outputs: %s\n", strings.Join(previous, ", "))
		}
		if plan.textEncoder > 0 {
			fmt.Fprintf(cliOut, "caption caching (before training, text encoder %s): %.2f GiB\n", plan.textEncoderName, float64(plan.textEncoder)/(1<<30))
		}
		if err := printPlanGrid(plan, budget); err != nil {
			return err
		}
		if budget > 0 {
			fmt.Fprintf(cliOut, "device budget: %.1f GiB — training %s\n", float64(budget)/(1<<30), fitVerdict(plan, budget))
			if plan.textEncoder > 0 {
				fmt.Fprintf(cliOut, "  caption caching %s\n", textEncoderVerdict(plan, budget))
			}
			if plan.plan.Total > budget || plan.textEncoder > budget {
				// A real run refuses such a job: so does its dry run.
				return &exitError{code: 1, msg: "the job does not fit the device budget (see above)"}
			}
		}
		return nil
	}
	if budget > 0 && plan.plan.Total > budget {
		return fmt.Errorf("the job needs an estimated %.1f GiB but the device has %.1f GiB; %s",
			float64(plan.plan.Total)/(1<<30), float64(budget)/(1<<30), fitVerdict(plan, budget))
	}
	if budget > 0 && plan.textEncoder > budget {
		return fmt.Errorf("caching the captions with %s needs an estimated %.1f GiB but the device has %.1f GiB: %s",
			plan.textEncoderName, float64(plan.textEncoder)/(1<<30), float64(budget)/(1<<30), textEncoderVerdict(plan, budget))
	}
	if err := clearPreviousRun(previous); err != nil {
		return err
	}
	how.backend = info.Name
	how.memory = plan.input.MemoryOptions()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := setupRun(cfg, be, how)
	if err != nil {
		return err
	}
	start := time.Now()
	sum, err := r.runner.Run(ctx)
	if sum != nil {
		sum.PrintSummary(cliOut)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cliOut, "run folder: %s (%s)\n", r.outDir, time.Since(start).Round(time.Second))
	if errors.Is(ctx.Err(), context.Canceled) {
		return &exitError{code: 130, msg: "interrupted; resume with --resume auto"}
	}
	return nil
}

// preflight checks what can be checked before any heavy work: input paths
// exist, the output folder lies outside the dataset and is writable.
func preflight(cfg *job.Config) error {
	ps := &job.Problems{Source: "job"}
	var list []job.Problem
	if !isEmbeddedPath(cfg.Model.Path) {
		if _, err := os.Stat(cfg.Model.Path); err != nil {
			list = append(list, job.Problem{Path: "model.path", Msg: fmt.Sprintf("%v", err)})
		}
	}
	for i, d := range cfg.Dataset.Folders {
		st, err := os.Stat(d.Path)
		if err != nil || !st.IsDir() {
			list = append(list, job.Problem{Path: fmt.Sprintf("dataset.folders.%d.path", i), Msg: fmt.Sprintf("%s is not a folder", d.Path)})
		}
	}
	if inData := outputInDataset(cfg); len(inData) > 0 {
		list = append(list, inData...)
	} else if err := os.MkdirAll(cfg.Output.Dir, 0o755); err != nil {
		list = append(list, job.Problem{Path: "output.dir", Msg: err.Error()})
	} else if probe, err := os.CreateTemp(cfg.Output.Dir, ".write-test.tmp-*"); err != nil {
		list = append(list, job.Problem{Path: "output.dir", Msg: "not writable: " + err.Error()})
	} else {
		probe.Close()
		os.Remove(probe.Name())
	}
	if len(list) > 0 {
		ps.List = list
		return ps
	}
	return nil
}

// deviceBudget is the memory the job may use, in bytes (0: unknown).
func deviceBudget(info backend.Info, flagGiB float64) int64 {
	if flagGiB > 0 {
		return int64(flagGiB * (1 << 30))
	}
	if info.Name == "xla:cuda" {
		return backend.GPUMemory()
	}
	return 0
}

// printPlanGrid prints the job's plan at the usual resolutions and every base
// scheme, marking what fits the budget, so one dry run shows the options.
func printPlanGrid(p *plannedJob, budget int64) error {
	res := train.GridResolutions
	if !slices.Contains(res, p.input.Resolution) {
		res = append(slices.Clone(res), p.input.Resolution)
		slices.Sort(res)
	}
	ckpt := "off"
	if p.input.Checkpointing {
		ckpt = "on"
	}
	fmt.Fprintf(cliOut, "planned device memory of this job at other resolutions and base schemes (checkpointing %s", ckpt)
	if budget > 0 {
		fmt.Fprintf(cliOut, "; ✓ fits %.3g GiB", float64(budget)/(1<<30))
	}
	grid, err := train.PlanGrid(p.input, p.modes, budget, res, train.GridSchemes)
	if err != nil {
		return err
	}
	fmt.Fprintf(cliOut, "):\n%s", train.FormatPlanGrid(grid, res, train.GridSchemes, budget))
	return nil
}
