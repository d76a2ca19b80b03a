// Command go-api trains Flora's tiny demo LoRA through the Go API (package
// pipeline) and samples an image with the adapter it trained: what
// `flora train` and `flora sample` do, called from a Go program.
//
//	go run ./examples/go-api                    # the job's 150 steps, into runs/go-api
//	go run ./examples/go-api --steps 20 --out /tmp/api
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/pipeline"
)

func main() {
	config := flag.String("config", "examples/tiny/train.yaml", "job config to train")
	out := flag.String("out", "runs/go-api", "run folder (an earlier run there is replaced)")
	steps := flag.Int("steps", 0, "training steps, without warmup (0: the job's)")
	backend := flag.String("backend", "", "auto, go, xla:cpu, xla:cuda (default: the job's)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *config, *out, *steps, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "go-api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, config, out string, steps int, backend string) error {
	// A job is the YAML config with "key=value" overrides, validated.
	sets := []string{"output.dir=" + out}
	if steps > 0 {
		// A short run has no room for the job's warmup; one preview at the end.
		sets = append(sets, fmt.Sprintf("train.steps=%d", steps), "train.warmup_steps=0", fmt.Sprintf("sample.every=%d", steps))
	}
	cfg, err := job.Load(config, sets)
	if err != nil {
		return err
	}
	// Train: events arrive on this goroutine as the run goes.
	report := pipeline.Reporter{OnEvent: func(e pipeline.Event) {
		switch e.Kind {
		case pipeline.EventStep:
			fmt.Printf("step %d loss %.6f\n", e.Step, e.Result.Loss)
		case pipeline.EventCheckpoint:
			fmt.Printf("checkpoint %s\n", e.Path)
		case pipeline.EventPreview:
			fmt.Printf("preview %s\n", e.Path)
		}
	}}
	res, err := pipeline.Train(ctx, cfg, pipeline.RunOptions{Backend: backend, Overwrite: true, Reporter: report})
	if err != nil {
		return err
	}
	if res.Interrupted {
		return fmt.Errorf("interrupted at step %d", res.Summary.EndStep)
	}
	adapter := res.Summary.Exports[0] // the ComfyUI-named file
	fmt.Printf("adapter %s\n", adapter)

	// Sample with the adapter just trained.
	s, err := pipeline.Sample(ctx, pipeline.SampleOptions{Model: cfg.Model.Path, Backend: backend,
		LoRAs: []pipeline.LoRA{{Path: adapter, Scale: 1}}, Prompts: []string{cfg.Sample.Prompts[0]},
		Seed: 1, Width: cfg.Sample.Width, Height: cfg.Sample.Height, Steps: cfg.Sample.Steps,
		Out: filepath.Join(out, "sample.png")})
	if err != nil {
		return err
	}
	fmt.Printf("sample %s\n", s.Files[0])
	return nil
}
