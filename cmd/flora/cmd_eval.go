package main

import (
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/backends"
	"github.com/olekukonko/tablewriter"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/data/feed"
	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/plot"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/pipeline"
	"github.com/flora-ml/flora/train"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "compare training runs and measure validation loss of adapters",
		subcommands: []*command{
			{name: "compare", summary: "table and plots of runs (loss curves; loss by rank)",
				usage: "eval compare RUN_DIR... [--plot curves.png] [--rank-plot ranks.png] [--by rank|name]", setup: evalCompareCmd},
			{name: "loss", summary: "validation loss at fixed timesteps and noise: base model vs adapters, on a job's dataset",
				usage: "eval loss --config JOB.yaml [--adapter FILE[:scale] ...] [--plot loss.png]", setup: evalLossCmd},
		},
	})
}

func evalCompareCmd(fs *pflag.FlagSet) func([]string) error {
	plotPath := fs.String("plot", "", "write the smoothed loss curves of all runs to this PNG")
	rankPlot := fs.String("rank-plot", "", "write final loss against LoRA rank to this PNG")
	by := fs.String("by", "rank", "order rows by rank or name")
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
		// Validation is deterministic: every caption as written, center crops.
		cfg.Dataset.CaptionDropout, cfg.Dataset.ShuffleTags, cfg.Dataset.Flip, cfg.Dataset.Crop = 0, false, false, "center"
		if *be != "" {
			cfg.Model.Backend = *be
		}
		b, info, err := backend.Select(cfg.Model.Backend)
		if err != nil {
			return err
		}
		fmt.Fprintln(cliErr, info)
		samples, comps, err := validationSamples(cfg, b)
		if err != nil {
			return err
		}
		m := comps.Transformer
		dtype := computeDTypeOf(cfg)
		times := train.DefaultValidationTimes
		type row struct {
			name    string
			perTime []float64
			mean    float64
		}
		var rows []row
		measure := func(name string) error {
			per, mean, err := train.ValidationLoss(m, samples, times, *seed, cfg.Train.Guidance, dtype)
			if err != nil {
				return err
			}
			rows = append(rows, row{name, per, mean})
			return nil
		}
		if err := measure("base"); err != nil {
			return err
		}
		for i := range specs {
			if err := lora.Detach(m); err != nil {
				return err
			}
			if err := attachLoRAs(m, specs[i:i+1]); err != nil {
				return err
			}
			if err := measure((*adapters)[i]); err != nil {
				return err
			}
		}
		t := tablewriter.NewWriter(cliOut)
		header := []string{"model", "mean"}
		for _, tt := range times {
			header = append(header, fmt.Sprintf("t=%.2f", tt))
		}
		t.Header(header)
		for _, r := range rows {
			cells := []string{r.name, fmt.Sprintf("%.5f", r.mean)}
			for _, v := range r.perTime {
				cells = append(cells, fmt.Sprintf("%.4f", v))
			}
			t.Append(cells)
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintf(cliOut, "%d validation samples, %d timesteps, noise seed %d\n", len(samples), len(times), *seed)
		if *plotPath != "" {
			c := &plot.Chart{Title: "validation loss by timestep", XLabel: "t", YLabel: "loss"}
			for _, r := range rows {
				c.Series = append(c.Series, plot.Series{Name: r.name, X: times, Y: r.perTime})
			}
			if err := c.WritePNG(*plotPath); err != nil {
				return err
			}
			fmt.Fprintf(cliOut, "wrote %s\n", *plotPath)
		}
		return nil
	}
}

// validationSamples loads the job's model and returns one epoch of its
// dataset as cached latents and caption embeddings (the text encoder is
// released afterwards).
func validationSamples(cfg *job.Config, b backends.Backend) ([]train.Sample, *bundle.Components, error) {
	ds, problems, err := data.Scan(pipeline.DatasetConfig(cfg.Dataset))
	if err != nil {
		return nil, nil, err
	}
	if err := problems.Err(); err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	comps, err := bundle.Load(b, bundle.Options{Path: cfg.Model.Path, VAE: cfg.Model.VAE, TextEncoder: cfg.Model.TextEncoder,
		Variant: cfg.Model.Variant, DType: computeDTypeOf(cfg), TextQuant: quant.Scheme(cfg.Model.TextEncoderQuantize),
		SkipTransformer: true})
	if err != nil {
		return nil, nil, err
	}
	cacheDir := cfg.Dataset.CacheDir
	if cacheDir == "" {
		cacheDir = cfg.Output.Dir + "/cache"
	}
	store, err := cache.Open(cacheDir, cache.Options{})
	if err != nil {
		return nil, nil, err
	}
	lat := &vaeLatents{v: comps.VAE, id: comps.VAEID}
	text := &promptEmbeddings{p: comps.Text}
	if _, err := cache.BuildLatents(store, ds, lat, cache.BuildOptions{BatchSize: 4}); err != nil {
		return nil, nil, err
	}
	if _, err := cache.BuildText(store, ds, text, cache.BuildOptions{BatchSize: 8}); err != nil {
		return nil, nil, err
	}
	textID := text.Identity()
	comps.Text.Release()
	if comps.Transformer == nil { // loaded after the text encoder is gone
		q, err := pipeline.QuantOptions(cfg)
		if err != nil {
			return nil, nil, err
		}
		tc, err := bundle.Load(b, bundle.Options{Path: cfg.Model.Path, Variant: cfg.Model.Variant, DType: computeDTypeOf(cfg),
			Quant: q, SkipVAE: true, SkipText: true})
		if err != nil {
			return nil, nil, err
		}
		comps.Transformer = tc.Transformer
	}
	plan, err := data.NewPlan(ds, data.PlanOptions{Seed: 1, BatchSize: 1})
	if err != nil {
		return nil, nil, err
	}
	src, err := feed.New(ds, plan, store, feed.Options{LatentIdentity: lat.Identity(), TextIdentity: textID})
	if err != nil {
		return nil, nil, err
	}
	var samples []train.Sample
	for i := 0; i < plan.BatchesPerEpoch(); i++ {
		batch, err := src.Next()
		if err != nil {
			return nil, nil, err
		}
		samples = append(samples, batch...)
	}
	return samples, comps, nil
}
