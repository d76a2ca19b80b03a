package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/pipeline"
	"github.com/flora-ml/flora/sample"
)

// sampleFlags are the flags of `flora sample`.
type sampleFlags struct {
	model, vae, textEncoder, embeddings string
	textQuant, quantize                 string
	variant                             string
	prompts                             []string
	promptsFile, negative               string
	loras                               []string
	refs                                []string
	steps                               int
	guidance                            float64
	cfg                                 string
	seed                                uint64
	count                               int
	width, height                       int
	out                                 string
	grid                                bool
	backend, dtype                      string
}

func init() {
	register(&command{
		name:    "sample",
		summary: "generate images with a FLUX.2 model and optional LoRA adapters",
		usage:   "sample --model PATH (--prompt TEXT | --prompts-file FILE | --embeddings FILE) [flags]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			f := &sampleFlags{}
			fs.StringVar(&f.model, "model", "", "a built-in model (embedded:nano, embedded:tiny), an official .safetensors file, or a diffusers model folder (required)")
			fs.StringVar(&f.vae, "vae", "", "autoencoder (default: vae/ or ae.safetensors next to the model)")
			fs.StringVar(&f.textEncoder, "text-encoder", "", "text encoder folder (default: text_encoder/ next to the model)")
			fs.StringVar(&f.textQuant, "text-encoder-quantize", "none", "store the text encoder's layers as none, int8, fp8 or nf4 (Mistral Small 3.1 needs int8/nf4 on 24 GB)")
			fs.StringVar(&f.quantize, "quantize", "none", "hold the transformer as none, int8, fp8 or nf4 (a checkpoint saved by flora model quantize loads as it is stored)")
			fs.StringVar(&f.variant, "variant", "auto", "FLUX.2 variant (auto infers it; name klein-base-* to sample the undistilled models with CFG)")
			fs.StringVar(&f.embeddings, "embeddings", "", "precomputed text embeddings (an embedding table: ctx [N, L, D], optional prompts metadata and negative [1, L, D]; --prompt looks rows up by text)")
			fs.StringArrayVar(&f.prompts, "prompt", nil, "prompt (repeatable)")
			fs.StringVar(&f.promptsFile, "prompts-file", "", "file with one prompt per line (# starts a comment line; at most 16 MiB)")
			fs.StringVar(&f.negative, "negative", "", "negative prompt (classifier-free guidance)")
			fs.StringArrayVar(&f.loras, "lora", nil, fmt.Sprintf("LoRA adapter FILE[:SCALE], scale in %s, default 1 (repeatable)", loraScaleRange))
			fs.StringArrayVar(&f.refs, "ref", nil, fmt.Sprintf("reference image FILE for FLUX.2 editing (repeatable, in order; sides >= %d px, scaled down to %d² pixels for one reference, %d² each for several; recorded by SHA-256 in the PNG)", sample.RefMinSide, 2024, 1024))
			intFlag(fs, &f.steps, "steps", 0, intIn(1, job.MaxSampleSteps), fmt.Sprintf("sampling steps, 1 to %d (default: the variant's)", job.MaxSampleSteps))
			floatFlag(fs, &f.guidance, "guidance", -1, job.FloatRanges["sample.guidance"],
				fmt.Sprintf("guidance scale in %s (default: the variant's)", job.FloatRanges["sample.guidance"]))
			fs.StringVar(&f.cfg, "cfg", "auto", "classifier-free guidance: auto (on for undistilled models without a guidance input), on, off")
			fs.Uint64Var(&f.seed, "seed", 42, "seed of the first image; image i uses seed+i")
			intFlag(fs, &f.count, "count", 1, intIn(1, maxSampleCount), fmt.Sprintf("images per prompt, 1 to %d", maxSampleCount))
			side := fmt.Sprintf("a multiple of %d in [%d, %d]", job.ImageSideMultiple, job.MinImageSide, job.MaxImageSide)
			intFlag(fs, &f.width, "width", 1024, job.CheckImageSide, "image width in pixels, "+side)
			intFlag(fs, &f.height, "height", 1024, job.CheckImageSide, "image height in pixels, "+side)
			fs.StringVar(&f.out, "out", "samples", "output folder (or a .png file for a single image)")
			fs.BoolVar(&f.grid, "grid", false, "also write grid.png (prompts × seeds)")
			fs.StringVar(&f.backend, "backend", "", "auto, go, xla:cpu, xla:cuda (default $FLORA_BACKEND or auto)")
			fs.StringVar(&f.dtype, "dtype", "auto", "compute dtype: auto (bf16 on GPUs, f32 otherwise), bf16, f32")
			return func(args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected arguments %q (prompts go in --prompt)", args)
				}
				return runSample(f)
			}
		},
	})
}

// maxSampleCount bounds --count (images per prompt).
const maxSampleCount = 1000

func runSample(f *sampleFlags) error {
	if f.model == "" {
		return usageErrorf("--model is required")
	}
	for _, r := range f.refs {
		if r == "" {
			return usageErrorf("--ref: empty file name; give an image file")
		}
	}
	if strings.HasSuffix(strings.ToLower(f.out), ".png") && f.promptsFile != "" {
		if err := fsutil.CheckOutput(f.out, f.promptsFile); err != nil {
			return usageErrorf("--out %v", err)
		}
	}
	prompts, err := readPrompts(f)
	if err != nil {
		return err
	}
	loras, err := parseLoRASpecs("--lora", f.loras)
	if err != nil {
		return err
	}
	tq, err := quant.ParseScheme(f.textQuant)
	if err != nil {
		return usageErrorf("--text-encoder-quantize: %v", err)
	}
	tsch, err := quant.ParseScheme(f.quantize)
	if err != nil {
		return usageErrorf("--quantize: %v", err)
	}
	// 0 and -1 are the flags' "not given" markers: given values were
	// checked while parsing (steps >= 1, guidance finite and >= 0).
	opts := pipeline.SampleOptions{Model: f.model, VAE: f.vae, TextEncoder: f.textEncoder, Variant: f.variant,
		Quantize: tsch, TextEncoderQuantize: tq, DType: f.dtype, Backend: f.backend, LoRAs: loras, References: f.refs,
		Prompts: prompts, Embeddings: f.embeddings, Negative: f.negative, Steps: f.steps, Guidance: f.guidance, CFG: f.cfg,
		Seed: f.seed, Count: f.count, Width: f.width, Height: f.height, Out: f.out, Grid: f.grid,
		VAESetting: "--vae", TextEncoderSetting: "--text-encoder", Reporter: pipeline.Reporter{Log: cliErr}}
	if err := opts.Validate(); err != nil {
		return usageErrorf("--%v", err)
	}
	res, err := pipeline.Sample(context.Background(), opts)
	if res != nil {
		for _, p := range res.Files {
			fmt.Fprintln(cliOut, p)
		}
	}
	return err
}

func readPrompts(f *sampleFlags) ([]string, error) {
	prompts := append([]string(nil), f.prompts...)
	if f.promptsFile != "" {
		data, err := fsutil.ReadFileLimited(f.promptsFile, maxPromptsFileBytes, "a prompts file")
		if err != nil {
			return nil, fmt.Errorf("reading prompts: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line := strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				prompts = append(prompts, line)
			}
		}
	}
	if len(prompts) == 0 && f.embeddings == "" {
		return nil, usageErrorf("give a prompt (--prompt or --prompts-file) or precomputed --embeddings")
	}
	return prompts, nil
}

// maxPromptsFileBytes bounds a --prompts-file; its lines may be as long as
// that.
const maxPromptsFileBytes = 16 << 20
