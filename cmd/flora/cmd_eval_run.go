package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/pipeline"
)

func evalRunCmd(fs *pflag.FlagSet) func([]string) error {
	config := fs.String("config", "", "job config of the trained run (required)")
	sets := addSetFlag(fs)
	promptsFrom := fs.String("prompts-from", "synth", "prompts to sample: synth (the held-out flora-style prompts) or a text file, one prompt per line")
	adapter := fs.String("adapter", "", "adapter file to evaluate (default: the run's export, output.dir/NAME.safetensors)")
	seed := fs.Uint64("seed", 1, "sampling and validation-noise seed")
	steps := fs.Int("steps", 0, "sampling steps (default: the job's sample.steps)")
	width := fs.Int("width", 0, "sample width (default: the job's sample.width)")
	height := fs.Int("height", 0, "sample height (default: the job's sample.height)")
	be := fs.String("backend", "", "backend (default: the job's)")
	return func(args []string) error {
		cfg, err := loadJobFlag(args, *config, *sets)
		if err != nil {
			return err
		}
		var prompts []string
		if *promptsFrom != "synth" {
			if prompts, err = readPromptsFile(*promptsFrom); err != nil {
				return err
			}
		}
		res, err := pipeline.EvalRun(context.Background(), cfg, pipeline.EvalRunOptions{Adapter: *adapter, Prompts: prompts, Seed: *seed,
			Steps: *steps, Width: *width, Height: *height, Backend: *be, Reporter: pipeline.Reporter{Log: cliErr}})
		if err != nil {
			return err
		}
		printRunEval(res)
		return nil
	}
}

// printRunEval prints the numbers of an eval.json: the adapter's against
// the base model's.
func printRunEval(e *eval.RunEval) {
	fmt.Fprintf(cliOut, "style score:     adapter %.3f ± %.3f, base %.3f ± %.3f (%d prompts, seed %d)\n",
		e.StyleScore, e.StyleStd, e.BaseStyleScore, e.BaseStyleStd, len(e.Prompts), e.Seed)
	fmt.Fprintf(cliOut, "validation loss: adapter %.5f, base %.5f (on %s)\n", e.ValidationLoss, e.BaseValidationLoss, e.ValidationSet)
}

// readPromptsFile reads one prompt per line, skipping blank lines and
// lines starting with #.
func readPromptsFile(path string) ([]string, error) {
	b, err := fsutil.ReadFileLimited(path, 16<<20, "a prompts file")
	if err != nil {
		return nil, fmt.Errorf("--prompts-from: %w (give synth or a text file, one prompt per line)", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--prompts-from %s: no prompts (one per line; # starts a comment)", path)
	}
	return out, nil
}
