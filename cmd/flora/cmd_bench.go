package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/pipeline"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure speed and memory of the transformer (forward or LoRA training step) and the VAE on random weights",
		usage:   "bench [--variant tiny|klein-4b|klein-9b|dev|embedded-tiny] [--mode forward|train|vae-decode] [--res 512] [flags]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			variant := fs.String("variant", "tiny", "FLUX.2 variant whose shapes to use (random weights)")
			mode := fs.String("mode", "train", "forward, train (LoRA step: forward, backward, AdamW) or vae-decode")
			res := fs.Int("res", 512, "image side in pixels (latent tokens = (res/16)²)")
			batch := fs.Int("batch", 1, "batch size")
			textLen := fs.Int("text", 512, "text tokens")
			dtypeName := fs.String("dtype", "auto", "auto (bf16 on GPUs, f32 otherwise), bf16 or f32")
			rank := fs.Int("rank", 16, "LoRA rank (train mode)")
			ckpt := fs.Bool("checkpointing", false, "block-wise execution with recomputation (train mode)")
			quantize := fs.String("quantize", "none", "base weights: none, int8, fp8, nf4")
			steps := fs.Int("steps", 3, "measured steps (after one warm-up step that compiles)")
			be := fs.String("backend", "", "backend (default auto)")
			asJSON := fs.Bool("json", false, "print one JSON line (machine-readable, e.g. for scripts/bench-vs-torch.sh) instead of text")
			attnKernel := fs.String("attention", "blocked", "attention kernel: blocked (memory-efficient, default) or plain (reference, [S,S] probabilities)")
			attnBlock := fs.Int("attention-block", 0, "query rows per attention block (0 = automatic per backend and shape)")
			doubles := fs.Int("double-blocks", -1, "number of double blocks (-1: the variant's), for reduced configurations of a variant's width")
			singles := fs.Int("single-blocks", -1, "number of single blocks (-1: the variant's)")
			offload := fs.Bool("offload-activations", false, "move the block inputs saved for the backward pass to host memory (train mode; implies block-wise execution)")
			blocksOnHost := fs.Int("blocks-on-host", 0, "block swap: keep this many blocks' weights in host memory, streamed to the device per use")
			return func(args []string) error {
				if len(args) != 0 {
					return usageErrorf("unexpected arguments %q", args)
				}
				q, err := quant.ParseScheme(*quantize)
				if err != nil {
					return usageErrorf("--quantize: %v", err)
				}
				opts := pipeline.BenchOptions{Variant: *variant, Mode: *mode, Res: *res, Batch: *batch, TextTokens: *textLen, DType: *dtypeName,
					Rank: *rank, Checkpointing: *ckpt, Quantize: q, Steps: *steps, Backend: *be,
					Attention:    flux2.AttentionOptions{Kernel: flux2.AttentionKernel(*attnKernel), BlockQ: *attnBlock},
					DoubleBlocks: *doubles, SingleBlocks: *singles,
					Memory:   flux2.MemoryOptions{OffloadActivations: *offload, BlocksOnHost: *blocksOnHost},
					Reporter: pipeline.Reporter{Log: cliErr}}
				if err := opts.Validate(); err != nil {
					return usageErrorf("--%v", err)
				}
				r, err := pipeline.Bench(opts)
				if err != nil {
					return err
				}
				if *asJSON {
					return json.NewEncoder(cliOut).Encode(r)
				}
				printBench(r)
				return nil
			}
		},
	})
}

// printBench prints a measurement for people.
func printBench(r *pipeline.BenchResult) {
	d := func(msec float64, unit time.Duration) time.Duration { return time.Duration(msec * 1e6).Round(unit) }
	if r.Mode == "vae-decode" {
		fmt.Fprintf(cliOut, "FLUX.2 VAE decode %dx%d: first %s, per decode %s, peak host memory %s\n", r.Res, r.Res,
			d(r.FirstStepMS, time.Millisecond), d(r.MSPerStep, time.Millisecond), humanBytes(r.PeakRSSBytes))
		return
	}
	attn := "plain attention"
	if r.AttentionBlock > 0 {
		attn = fmt.Sprintf("blocked attention (query block %d)", r.AttentionBlock)
	}
	ckpt := ""
	if r.Checkpointing {
		ckpt = ", checkpointing"
	}
	fmt.Fprintf(cliOut, "%s %s: batch %d, %d image + %d text tokens, %s, base %s%s, %s\n", r.Variant, r.Mode, r.Batch, r.ImageTokens, r.TextTokens,
		r.DType, r.Quantize, ckpt, attn)
	fmt.Fprintf(cliOut, "  first step (compile + run): %s\n  per step: %s  (%.3f steps/s, %.1f GFLOP/s; fastest step %s)\n  peak host memory: %s\n",
		d(r.FirstStepMS, time.Millisecond), d(r.MSPerStep, time.Microsecond), 1000/r.MSPerStep, r.GFLOPS, d(r.MinStepMS, time.Microsecond),
		humanBytes(r.PeakRSSBytes))
	if r.GPUMemoryBytes > 0 {
		fmt.Fprintf(cliOut, "  GPU memory in use (nvidia-smi): %s\n", humanBytes(r.GPUMemoryBytes))
	}
}
