package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/flora-ml/flora/internal/tensorrand"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/memtrim"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/train"
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
				attn := flux2.AttentionOptions{Kernel: flux2.AttentionKernel(*attnKernel), BlockQ: *attnBlock}
				if err := attn.Validate(); err != nil {
					return usageErrorf("--attention/--attention-block: %v", err)
				}
				b, info, err := backend.Select(*be)
				if err != nil {
					return err
				}
				fmt.Fprintln(cliErr, info)
				baseline := currentRSS() // the process with its backend, before any model
				dtype, err := info.ComputeDType(*dtypeName)
				if err != nil {
					return usageErrorf("--%v", err)
				}
				v, err := benchVariant(*variant)
				if err != nil {
					return usageErrorf("%v", err)
				}
				if *doubles >= 0 || *singles >= 0 {
					if *doubles >= 0 {
						v.Config.Depth = *doubles
					}
					if *singles >= 0 {
						v.Config.DepthSingle = *singles
					}
					v.Name = fmt.Sprintf("%s-%d+%d", v.Name, v.Config.Depth, v.Config.DepthSingle)
					if err := v.Config.Validate(); err != nil {
						return usageErrorf("--double-blocks/--single-blocks: %v", err)
					}
				}
				if *res%16 != 0 || *res < 16 || *steps < 1 || *batch < 1 {
					return usageErrorf("--res must be a multiple of 16, --steps and --batch >= 1")
				}
				if *mode == "vae-decode" {
					r, err := benchVAE(b, *res, *steps)
					if err != nil {
						return err
					}
					r.Backend = info.Name
					if *asJSON {
						return json.NewEncoder(cliOut).Encode(r)
					}
					fmt.Fprintf(cliOut, "FLUX.2 VAE decode %dx%d: first %s, per decode %s, peak host memory %s\n", *res, *res,
						time.Duration(r.FirstStepMS*1e6).Round(time.Millisecond), time.Duration(r.MSPerStep*1e6).Round(time.Millisecond),
						humanBytes(r.PeakRSSBytes))
					return nil
				}
				q, err := quant.ParseScheme(*quantize)
				if err != nil {
					return usageErrorf("%v", err)
				}
				start := time.Now()
				m, err := randomBenchModel(b, v.Config, dtype, q)
				if err != nil {
					return err
				}
				m.Attention = attn
				m.Memory = flux2.MemoryOptions{OffloadActivations: *offload, BlocksOnHost: *blocksOnHost}
				if err := m.Memory.Validate(v.Config); err != nil {
					return usageErrorf("--blocks-on-host: %v", err)
				}
				fmt.Fprintf(cliErr, "random %s weights (%d parameters, %s, base %s) in %s\n", v.Name, v.Config.NumParams(), dtype, q,
					time.Since(start).Round(time.Millisecond))
				h := *res / 16
				n := h * h
				flops := v.Config.ForwardFLOPs(*batch, n, *textLen)
				var step func() error
				var targets []lora.Target
				switch *mode {
				case "forward":
					bt, err := benchBatch(m, *batch, h, *textLen)
					if err != nil {
						return err
					}
					step = func() error {
						out, err := m.Forward(bt, dtype)
						if err == nil {
							out.FinalizeAll()
						}
						return err
					}
				case "train":
					targets, err = lora.Spec{Preset: lora.PresetBlocks, Rank: *rank}.Plan(v.Config)
					if err != nil {
						return err
					}
					if err := lora.Attach(m, lora.NewAdapter(targets, 1), 1, true); err != nil {
						return err
					}
					samples := make([]train.Sample, *batch)
					rng := rand.New(rand.NewPCG(1, 1))
					for i := range samples {
						lat := make([]float32, v.Config.InChannels*n)
						emb := make([]float32, *textLen*v.Config.ContextDim)
						for j := range lat {
							lat[j] = float32(rng.NormFloat64())
						}
						for j := range emb {
							emb[j] = float32(rng.NormFloat64())
						}
						samples[i] = train.Sample{Latent: lat, C: v.Config.InChannels, H: h, W: h, Embedding: emb, L: *textLen, D: v.Config.ContextDim}
					}
					src, err := train.NewMemorySource(samples, *batch, 1)
					if err != nil {
						return err
					}
					tr, err := train.NewTrainer(m, src, train.Options{Steps: *steps + 1, GradAccum: 1,
						Timesteps: train.TimestepSampler{Kind: "uniform"}, LR: train.LRSchedule{Kind: "constant", Base: 1e-4, Total: *steps + 1},
						Optimizer: train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, MaxGradNorm: 1}, Guidance: 1, DType: dtype,
						Checkpointing: *ckpt, Memory: m.Memory, Seed: 1})
					if err != nil {
						return err
					}
					flops *= 3
					step = func() error { _, err := tr.Step(); return err }
				default:
					return usageErrorf("--mode must be forward, train or vae-decode")
				}
				t0 := time.Now()
				if err := step(); err != nil {
					return err
				}
				warm := time.Since(t0)
				// The measured steps' peak: construction garbage (random
				// weights' float copies) is returned to the system first and
				// the peak counter restarts from what is resident now.
				memtrim.Release()
				warmRSS := currentRSS()
				peakReset := resetPeakRSS() == nil
				t1 := time.Now()
				var fastest time.Duration
				for i := 0; i < *steps; i++ {
					ts := time.Now()
					if err := step(); err != nil {
						return err
					}
					if d := time.Since(ts); i == 0 || d < fastest {
						fastest = d
					}
				}
				per := time.Since(t1) / time.Duration(*steps)
				r := benchResult{Variant: v.Name, Mode: *mode, Backend: info.Name, DType: dtype.String(), Quantize: string(q),
					Batch: *batch, ImageTokens: n, TextTokens: *textLen, Parameters: v.Config.NumParams(), Checkpointing: *ckpt && *mode == "train", Steps: *steps,
					FirstStepMS: ms(warm), MSPerStep: ms(per), MinStepMS: ms(fastest), GFLOPS: flops / per.Seconds() / 1e9, PeakRSSBytes: peakRSS(), Attention: string(attn.KernelName()),
					BaselineRSSBytes: baseline, WarmRSSBytes: warmRSS, OffloadActivations: m.Memory.OffloadActivations, BlocksOnHost: m.Memory.BlocksOnHost}
				if peakReset {
					r.StepPeakRSSBytes = r.PeakRSSBytes
				}
				attnDesc := "plain attention"
				if attn.KernelName() == flux2.AttentionBlocked {
					r.AttentionBlock = attn.QueryBlock(b, *batch, v.Config.NumHeads, n+*textLen)
					attnDesc = fmt.Sprintf("blocked attention (query block %d)", r.AttentionBlock)
				}
				if *mode == "train" {
					r.Rank, r.LoRATargets = *rank, len(targets)
					for _, t := range targets {
						r.LoRAParameters += int64(t.Rank * (t.In + t.Out))
					}
					in := train.MemoryPlanInput{Config: v.Config, Quant: quant.Options{Scheme: q, DoubleQuant: q == quant.NF4}, ComputeBytes: dtype.Size(),
						Targets: targets, Resolution: *res, TextTokens: *textLen, Batch: *batch, Checkpointing: *ckpt,
						OffloadActivations: *offload, BlocksOnHost: *blocksOnHost, Device: train.PlanDeviceFor(b)}
					r.PlanBytes = train.EstimateMemory(in).Total
				}
				if info.Name == "xla:cuda" {
					r.GPUMemoryBytes = backend.GPUMemoryUsed()
				}
				if *asJSON {
					return json.NewEncoder(cliOut).Encode(r)
				}
				fmt.Fprintf(cliOut, "%s %s: batch %d, %d image + %d text tokens, %s, base %s%s, %s\n", v.Name, *mode, *batch, n, *textLen, dtype, q,
					map[bool]string{true: ", checkpointing", false: ""}[r.Checkpointing], attnDesc)
				fmt.Fprintf(cliOut, "  first step (compile + run): %s\n  per step: %s  (%.3f steps/s, %.1f GFLOP/s; fastest step %s)\n  peak host memory: %s\n",
					warm.Round(time.Millisecond), per.Round(time.Microsecond), 1/per.Seconds(), r.GFLOPS, fastest.Round(time.Microsecond), humanBytes(r.PeakRSSBytes))
				if r.GPUMemoryBytes > 0 {
					fmt.Fprintf(cliOut, "  GPU memory in use (nvidia-smi): %s\n", humanBytes(r.GPUMemoryBytes))
				}
				return nil
			}
		},
	})
}

// benchResult is one `flora bench` measurement; --json prints it as one line.
type benchResult struct {
	Variant        string  `json:"variant,omitempty"`
	Mode           string  `json:"mode"`
	Backend        string  `json:"backend"`
	DType          string  `json:"dtype,omitempty"`
	Quantize       string  `json:"quantize,omitempty"`
	Batch          int     `json:"batch"`
	ImageTokens    int     `json:"image_tokens,omitempty"`
	TextTokens     int     `json:"text_tokens,omitempty"`
	Res            int     `json:"res,omitempty"`
	Parameters     int64   `json:"parameters,omitempty"`
	Rank           int     `json:"rank,omitempty"`
	LoRATargets    int     `json:"lora_targets,omitempty"`
	LoRAParameters int64   `json:"lora_parameters,omitempty"`
	Checkpointing  bool    `json:"checkpointing"`
	Steps          int     `json:"steps"`
	FirstStepMS    float64 `json:"first_step_ms"`
	MSPerStep      float64 `json:"ms_per_step"`
	// MinStepMS is the fastest measured step: on a machine shared with
	// other work it moves less than the mean (use it for A/B comparisons).
	MinStepMS      float64 `json:"min_step_ms,omitempty"`
	GFLOPS         float64 `json:"gflop_per_s,omitempty"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	GPUMemoryBytes int64   `json:"gpu_memory_bytes,omitempty"`
	// Attention is the attention kernel (blocked or plain); AttentionBlock
	// the query rows per block of the blocked kernel.
	Attention      string `json:"attention,omitempty"`
	AttentionBlock int    `json:"attention_block,omitempty"`
	// OffloadActivations and BlocksOnHost are the step's host-memory
	// options (train mode).
	OffloadActivations bool `json:"offload_activations,omitempty"`
	BlocksOnHost       int  `json:"blocks_on_host,omitempty"`
	// BaselineRSSBytes is the process's resident memory before the model
	// was built; StepPeakRSSBytes the peak over the measured steps (the
	// peak counter reset after the warm-up step, construction garbage
	// released), when the system allows the reset. StepPeakRSSBytes −
	// BaselineRSSBytes is what the model and its training step hold.
	BaselineRSSBytes int64 `json:"baseline_rss_bytes,omitempty"`
	// WarmRSSBytes is the resident memory after the warm-up step (programs
	// compiled, freed memory returned): the model, the optimizer state and
	// the compiled programs.
	WarmRSSBytes     int64 `json:"warm_rss_bytes,omitempty"`
	StepPeakRSSBytes int64 `json:"step_peak_rss_bytes,omitempty"`
	// PlanBytes is the memory plan's total for this run on this backend
	// (train mode; train.EstimateMemory with train.PlanDeviceFor).
	PlanBytes int64 `json:"plan_bytes,omitempty"`
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchVariant(name string) (flux2.Variant, error) {
	switch name {
	case "embedded-tiny":
		return bundle.EmbeddedTinyVariant(), nil
	case "small":
		return flux2.Variant{Name: "small", Config: flux2.Config{InChannels: 64, ContextDim: 128, Hidden: 256, NumHeads: 4, Depth: 2,
			DepthSingle: 4, AxesDim: [4]int{16, 16, 16, 16}, Theta: 2000, MLPRatio: 3, GuidanceEmbed: true}}, nil
	}
	return flux2.VariantByName(name)
}

// randomBenchModel builds random weights, quantized when asked.
func randomBenchModel(b backends.Backend, cfg flux2.Config, dtype dtypes.DType, q quant.Scheme) (*flux2.Model, error) {
	if q == quant.None {
		return flux2.NewRandomModel(b, cfg, 1, dtype)
	}
	m, err := flux2.NewModel(b, cfg)
	if err != nil {
		return nil, err
	}
	store := quant.Store(quant.Options{Scheme: q, DoubleQuant: q == quant.NF4})
	for _, name := range cfg.ParamNames() {
		dims := cfg.ParamShapes()[name]
		t := tensors.FromFlatDataAndDimensions(flux2.RandomWeight(name, dims, 1), dims...)
		if dtype != dtypes.Float32 {
			if t, err = flux2.ConvertHost(t, dtype); err != nil {
				return nil, err
			}
		}
		if err := store(m, name, t); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func benchBatch(m *flux2.Model, b, h, l int) (*flux2.Batch, error) {
	c := m.Config
	rng := rand.New(rand.NewPCG(2, 2))
	rnd := func(dims ...int) *tensors.Tensor { return tensorrand.Normal(rng, dims...) }
	ts := make([]float32, b)
	for i := range ts {
		ts[i] = 0.5
	}
	var g *tensors.Tensor
	if c.GuidanceEmbed {
		g = tensors.FromFlatDataAndDimensions(append([]float32(nil), ts...), b)
	}
	return m.NewBatch(rnd(b, h*h, c.InChannels), rnd(b, l, c.ContextDim), tensors.FromFlatDataAndDimensions(ts, b), g,
		flux2.TextIDs(b, l), flux2.ImageIDs(b, h, h, 0))
}

func benchVAE(b backends.Backend, res, steps int) (benchResult, error) {
	v, err := vae.NewRandom(b, vae.FLUX2Config(), 1, vae.Options{})
	if err != nil {
		return benchResult{}, err
	}
	lat := tensors.FromFlatDataAndDimensions(make([]float32, 128*(res/16)*(res/16)), 1, 128, res/16, res/16)
	t0 := time.Now()
	if _, err := v.Decode(lat); err != nil {
		return benchResult{}, err
	}
	warm := time.Since(t0)
	t1 := time.Now()
	for i := 0; i < steps; i++ {
		out, err := v.Decode(lat)
		if err != nil {
			return benchResult{}, err
		}
		out.FinalizeAll()
	}
	per := time.Since(t1) / time.Duration(steps)
	return benchResult{Mode: "vae-decode", Batch: 1, Res: res, Steps: steps, FirstStepMS: ms(warm), MSPerStep: ms(per),
		PeakRSSBytes: peakRSS()}, nil
}

// resetPeakRSS restarts the process's peak resident memory counter (VmHWM)
// from the current resident memory (Linux 4.0+).
func resetPeakRSS() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS reads the process's peak resident memory (VmHWM) from /proc.
func peakRSS() int64 { return procStatusBytes("VmHWM:") }

// currentRSS reads the process's resident memory (VmRSS) from /proc.
func currentRSS() int64 { return procStatusBytes("VmRSS:") }

// procStatusBytes reads a kB field of /proc/self/status (0 if absent).
func procStatusBytes(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
