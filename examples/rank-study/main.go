// Command rank-study trains the README demo's style LoRA (examples/tiny)
// at ranks 4, 8, 16 and 32 — same data, seeds and steps, alpha = rank;
// layers narrower than the rank keep their width as rank — then evaluates
// every run (held-out prompts sampled at a fixed seed, style score,
// validation loss; pipeline.EvalRun) and writes the comparison
// report of `flora eval compare --report`: a table, plots against rank and
// a sample grid (rows = ranks, columns = prompts).
//
//	go run ./examples/rank-study                          # runs/rank-study/r{4,8,16,32}, report in examples/rank-study/report
//	go run ./examples/rank-study --ranks 4,8 --steps 20 --report /tmp/report
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/pipeline"
)

func main() {
	config := flag.String("config", "examples/tiny/train.yaml", "the job every rank trains")
	ranks := flag.String("ranks", "4,8,16,32", "comma-separated LoRA ranks (alpha = rank)")
	runs := flag.String("runs", "runs/rank-study", "folder of the runs (one r{RANK} folder each; earlier runs are replaced)")
	report := flag.String("report", "examples/rank-study/report", "report folder")
	steps := flag.Int("steps", 0, "training steps (0: the job's)")
	backend := flag.String("backend", "", "auto, go, xla:cpu, xla:cuda (default: the job's)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *config, *ranks, *runs, *report, *steps, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "rank-study:", err)
		os.Exit(1)
	}
}

// capRanks caps the rank of layers narrower than rank (a rank above a
// layer's smaller side adds nothing; the nano model's input and output
// projections have 16 channels) with adapter.overrides at the same scale
// (alpha = rank), so every rank of the study trains the same layers.
func capRanks(cfg *job.Config, rank int) error {
	v, err := bundle.InspectVariant(cfg.Model.Path, cfg.Model.Variant)
	if err != nil {
		return err
	}
	layers, _ := lora.Layers(v.Config)
	for _, l := range layers {
		if side := min(l.In, l.Out); side < rank {
			cfg.Adapter.Overrides = append(cfg.Adapter.Overrides, job.AdapterOverride{Pattern: l.Module, Rank: side, Alpha: float64(side)})
		}
	}
	return nil
}

// parseRanks reads "4,8,16".
func parseRanks(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 {
			return nil, fmt.Errorf("--ranks: %q is not a rank >= 1", f)
		}
		out = append(out, r)
	}
	return out, nil
}

func run(ctx context.Context, config, rankList, runsDir, reportDir string, steps int, backend string) error {
	ranks, err := parseRanks(rankList)
	if err != nil {
		return err
	}
	var runs []*eval.Run
	for _, r := range ranks {
		dir := filepath.Join(runsDir, fmt.Sprintf("r%d", r))
		sets := []string{fmt.Sprintf("adapter.rank=%d", r), fmt.Sprintf("adapter.alpha=%d", r), "output.dir=" + dir,
			fmt.Sprintf("name=rank-%d", r)}
		if steps > 0 {
			sets = append(sets, fmt.Sprintf("train.steps=%d", steps), "train.warmup_steps=0", fmt.Sprintf("sample.every=%d", steps),
				fmt.Sprintf("train.save_every=%d", steps))
		}
		cfg, err := job.Load(config, sets)
		if err != nil {
			return err
		}
		if err := capRanks(cfg, r); err != nil {
			return err
		}
		fmt.Printf("rank %d: training into %s\n", r, dir)
		if _, err := pipeline.Train(ctx, cfg, pipeline.RunOptions{Backend: backend, Overwrite: true, Reporter: pipeline.Reporter{}}); err != nil {
			return fmt.Errorf("rank %d: %w", r, err)
		}
		ev, err := pipeline.EvalRun(ctx, cfg, pipeline.EvalRunOptions{Backend: backend, Seed: 1})
		if err != nil {
			return fmt.Errorf("rank %d: %w", r, err)
		}
		fmt.Printf("rank %d: validation loss %.5f (base %.5f), style score %.3f\n", r, ev.ValidationLoss, ev.BaseValidationLoss, ev.StyleScore)
		loaded, err := eval.LoadRun(dir)
		if err != nil {
			return err
		}
		runs = append(runs, loaded)
	}
	eval.SortByRank(runs)
	files, err := eval.Report(reportDir, runs)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println("wrote", f)
	}
	return nil
}
