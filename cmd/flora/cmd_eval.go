package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/internal/plot"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/pipeline"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "compare training runs and measure validation loss of adapters",
		subcommands: []*command{
			{name: "compare", summary: "table and plots of runs (loss curves; loss by rank); --report: markdown report with eval.json numbers and samples",
				usage: "eval compare RUN_DIR... [--plot curves.png] [--rank-plot ranks.png] [--by rank|name] [--report DIR]", setup: evalCompareCmd},
			{name: "run", summary: "evaluate a trained run: sample held-out prompts with and without the adapter, style scores, validation loss → RUN/eval.json",
				usage: "eval run --config JOB.yaml [--prompts-from synth|FILE] [--seed S] [--steps N] [--adapter FILE]", setup: evalRunCmd},
			{name: "style", summary: "flora-style score of images (diagonal stripes, cream background)",
				usage: "eval style IMAGE_OR_DIR... [--json]", setup: evalStyleCmd},
			{name: "loss", summary: "validation loss at fixed timesteps and noise: base model vs adapters, on a job's dataset",
				usage: "eval loss --config JOB.yaml [--adapter FILE[:scale] ...] [--plot loss.png]", setup: evalLossCmd},
		},
	})
}

func evalCompareCmd(fs *pflag.FlagSet) func([]string) error {
	plotPath := fs.String("plot", "", "write the smoothed loss curves of all runs to this PNG")
	rankPlot := fs.String("rank-plot", "", "write final loss against LoRA rank to this PNG")
	by := fs.String("by", "rank", "order rows by rank or name")
	report := fs.String("report", "", "write report.md, rank plots, loss curves and a sample grid into this folder (numbers and samples from each run's eval.json: flora eval run)")
	return func(args []string) error {
		if len(args) == 0 {
			return usageErrorf("give at least one run folder (output.dir of a training job)")
		}
		var runs []*eval.Run
		for _, dir := range args {
			r, err := eval.LoadRun(dir)
			if err != nil {
				return err
			}
			runs = append(runs, r)
		}
		switch *by {
		case "rank":
			eval.SortByRank(runs)
		case "name":
			sort.SliceStable(runs, func(i, j int) bool { return runs[i].Info.Name < runs[j].Info.Name })
		default:
			return usageErrorf("--by must be rank or name")
		}
		if err := eval.CompareTable(cliOut, runs); err != nil {
			return err
		}
		if *plotPath != "" {
			if err := eval.LossCurves(*plotPath, runs); err != nil {
				return err
			}
			fmt.Fprintf(cliOut, "wrote %s\n", *plotPath)
		}
		if *rankPlot != "" {
			if err := eval.RankCurve(*rankPlot, runs); err != nil {
				return err
			}
			fmt.Fprintf(cliOut, "wrote %s\n", *rankPlot)
		}
		if *report != "" {
			files, err := eval.Report(*report, runs)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintf(cliOut, "wrote %s\n", f)
			}
		}
		return nil
	}
}

func evalLossCmd(fs *pflag.FlagSet) func([]string) error {
	config := fs.String("config", "", "job config whose model and dataset to use (required)")
	sets := addSetFlag(fs)
	adapters := fs.StringArray("adapter", nil, "adapter FILE[:scale] to evaluate (repeatable); the base model is always measured")
	plotPath := fs.String("plot", "", "write loss against timestep for each model to this PNG")
	seed := fs.Uint64("seed", 1, "noise seed (fixed so numbers are comparable)")
	be := fs.String("backend", "", "backend (default: the job's)")
	return func(args []string) error {
		if len(args) != 0 || *config == "" {
			return usageErrorf("expected --config")
		}
		specs, err := parseLoRASpecs("--adapter", *adapters)
		if err != nil {
			return err
		}
		cfg, err := job.Load(*config, *sets)
		if err != nil {
			return err
		}
		res, err := pipeline.EvalLoss(context.Background(), cfg, pipeline.EvalOptions{Backend: *be, Adapters: specs, Seed: *seed,
			Reporter: pipeline.Reporter{Log: cliErr}})
		if err != nil {
			return err
		}
		t := tablewriter.NewWriter(cliOut)
		header := []string{"model", "mean"}
		for _, tt := range res.Times {
			header = append(header, fmt.Sprintf("t=%.2f", tt))
		}
		t.Header(header)
		for _, r := range res.Rows {
			cells := []string{r.Name, fmt.Sprintf("%.5f", r.Mean)}
			for _, v := range r.PerTime {
				cells = append(cells, fmt.Sprintf("%.4f", v))
			}
			t.Append(cells)
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintf(cliOut, "%d validation samples (%s), %d timesteps, noise seed %d\n", res.Samples, res.Set, len(res.Times), *seed)
		if *plotPath != "" {
			c := &plot.Chart{Title: "validation loss by timestep", XLabel: "t", YLabel: "loss"}
			for _, r := range res.Rows {
				c.Series = append(c.Series, plot.Series{Name: r.Name, X: res.Times, Y: r.PerTime})
			}
			if err := c.WritePNG(*plotPath); err != nil {
				return err
			}
			fmt.Fprintf(cliOut, "wrote %s\n", *plotPath)
		}
		return nil
	}
}
