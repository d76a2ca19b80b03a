package pipeline

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/memtrim"
	"github.com/flora-ml/flora/internal/rss"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/train"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// BenchOptions say what Bench measures: the transformer forward, the LoRA
// training step or the VAE decode, on random weights of a variant's shapes.
type BenchOptions struct {
	// Variant names the shapes: a published variant, embedded-tiny, or
	// small (a bench-only config).
	Variant string
	// Mode is forward, train or vae-decode.
	Mode string
	// Res is the image side in pixels (latent tokens (Res/16)²).
	Res int
	// Batch and TextTokens size the input.
	Batch, TextTokens int
	// DType is auto (bf16 on GPUs, f32 otherwise), bf16 or f32.
	DType string
	// Rank is the LoRA rank (train mode).
	Rank int
	// Checkpointing runs the step block-wise with recomputation.
	Checkpointing bool
	// Quantize stores the base weights as none, int8, fp8 or nf4.
	Quantize quant.Scheme
	// Steps are measured after one warm-up step that compiles.
	Steps int
	// Backend is auto (""), go, xla:cpu or xla:cuda.
	Backend string
	// Attention selects the attention kernel.
	Attention flux2.AttentionOptions
	// DoubleBlocks and SingleBlocks override the variant's block counts
	// (below 0: the variant's), for reduced configs of a variant's width.
	DoubleBlocks, SingleBlocks int
	// Memory are the step's host-memory options (train mode).
	Memory flux2.MemoryOptions
	// Reporter receives progress.
	Reporter
}

// BenchResult is one measurement; its JSON form is one line of
// `flora bench --json`.
type BenchResult struct {
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

// variant resolves the options' variant with its block-count overrides.
func (o BenchOptions) variant() (flux2.Variant, error) {
	var v flux2.Variant
	switch o.Variant {
	case "embedded-tiny":
		v = bundle.EmbeddedTinyVariant()
	case "small":
		v = flux2.Variant{Name: "small", Config: flux2.Config{InChannels: 64, ContextDim: 128, Hidden: 256, NumHeads: 4, Depth: 2,
			DepthSingle: 4, AxesDim: [4]int{16, 16, 16, 16}, Theta: 2000, MLPRatio: 3, GuidanceEmbed: true}}
	default:
		var err error
		if v, err = flux2.VariantByName(o.Variant); err != nil {
			return v, err
		}
	}
	if o.DoubleBlocks < 0 && o.SingleBlocks < 0 {
		return v, nil
	}
	if o.DoubleBlocks >= 0 {
		v.Config.Depth = o.DoubleBlocks
	}
	if o.SingleBlocks >= 0 {
		v.Config.DepthSingle = o.SingleBlocks
	}
	v.Name = fmt.Sprintf("%s-%d+%d", v.Name, v.Config.Depth, v.Config.DepthSingle)
	if err := v.Config.Validate(); err != nil {
		return v, fmt.Errorf("double-blocks/single-blocks: %w", err)
	}
	return v, nil
}

// Validate checks the options before anything is built; errors name the
// option.
func (o BenchOptions) Validate() error {
	if err := o.Attention.Validate(); err != nil {
		if o.Attention.BlockQ != 0 {
			return fmt.Errorf("attention-block: %w", err)
		}
		return fmt.Errorf("attention: %w", err)
	}
	if _, err := (backend.Info{}).ComputeDType(o.DType); err != nil {
		return err
	}
	v, err := o.variant()
	if err != nil {
		return err
	}
	if o.Res%16 != 0 || o.Res < 16 || o.Steps < 1 || o.Batch < 1 {
		return fmt.Errorf("res must be a multiple of 16, steps and batch >= 1")
	}
	switch o.Mode {
	case "forward", "train", "vae-decode":
	default:
		return fmt.Errorf("mode must be forward, train or vae-decode")
	}
	if _, err := quant.ParseScheme(string(o.Quantize)); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := o.Memory.Validate(v.Config); err != nil {
		return fmt.Errorf("blocks-on-host: %w", err)
	}
	return nil
}

// Bench measures one forward, training step or VAE decode: a warm-up step
// (compiling), then Steps timed steps, with the process's memory.
func Bench(opts BenchOptions) (*BenchResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b, info, err := selectBackend(nil, opts.Backend, opts.Reporter)
	if err != nil {
		return nil, err
	}
	baseline := rss.Current() // the process with its backend, before any model
	if opts.Mode == "vae-decode" {
		r, err := benchVAE(b, opts.Res, opts.Steps)
		if err != nil {
			return nil, err
		}
		r.Backend = info.Name
		return r, nil
	}
	dtype, _ := info.ComputeDType(opts.DType)
	v, _ := opts.variant()
	q := opts.Quantize
	start := time.Now()
	m, err := randomBenchModel(b, v.Config, dtype, q)
	if err != nil {
		return nil, err
	}
	m.Attention, m.Memory = opts.Attention, opts.Memory
	opts.printf("random %s weights (%d parameters, %s, base %s) in %s", v.Name, v.Config.NumParams(), dtype, q, time.Since(start).Round(time.Millisecond))
	h := opts.Res / 16
	n := h * h
	flops := v.Config.ForwardFLOPs(opts.Batch, n, opts.TextTokens)
	var step func() error
	var targets []lora.Target
	if opts.Mode == "forward" {
		if step, err = benchForward(m, opts, dtype); err != nil {
			return nil, err
		}
	} else {
		if targets, step, err = benchTrainStep(m, opts, dtype); err != nil {
			return nil, err
		}
		flops *= 3
	}
	t0 := time.Now()
	if err := step(); err != nil {
		return nil, err
	}
	warm := time.Since(t0)
	// The measured steps' peak: construction garbage (random weights'
	// float copies) is returned to the system first and the peak counter
	// restarts from what is resident now.
	memtrim.Release()
	warmRSS := rss.Current()
	peakReset := rss.ResetPeak() == nil
	per, fastest, err := timeSteps(step, opts.Steps)
	if err != nil {
		return nil, err
	}
	r := &BenchResult{Variant: v.Name, Mode: opts.Mode, Backend: info.Name, DType: dtype.String(), Quantize: string(q),
		Batch: opts.Batch, ImageTokens: n, TextTokens: opts.TextTokens, Parameters: v.Config.NumParams(),
		Checkpointing: opts.Checkpointing && opts.Mode == "train", Steps: opts.Steps,
		FirstStepMS: ms(warm), MSPerStep: ms(per), MinStepMS: ms(fastest), GFLOPS: flops / per.Seconds() / 1e9, PeakRSSBytes: rss.Peak(),
		Attention: string(opts.Attention.KernelName()), BaselineRSSBytes: baseline, WarmRSSBytes: warmRSS,
		OffloadActivations: m.Memory.OffloadActivations, BlocksOnHost: m.Memory.BlocksOnHost}
	if peakReset {
		r.StepPeakRSSBytes = r.PeakRSSBytes
	}
	if opts.Attention.KernelName() == flux2.AttentionBlocked {
		r.AttentionBlock = opts.Attention.QueryBlock(b, opts.Batch, v.Config.NumHeads, n+opts.TextTokens)
	}
	if opts.Mode == "train" {
		r.Rank, r.LoRATargets = opts.Rank, len(targets)
		for _, t := range targets {
			r.LoRAParameters += int64(t.Rank * (t.In + t.Out))
		}
		in := train.MemoryPlanInput{Config: v.Config, Quant: quant.Options{Scheme: q, DoubleQuant: q == quant.NF4}, ComputeBytes: dtype.Size(),
			Targets: targets, Resolution: opts.Res, TextTokens: opts.TextTokens, Batch: opts.Batch, Checkpointing: opts.Checkpointing,
			OffloadActivations: opts.Memory.OffloadActivations, BlocksOnHost: opts.Memory.BlocksOnHost, Device: train.PlanDeviceFor(b)}
		r.PlanBytes = train.EstimateMemory(in).Total
	}
	if info.Name == "xla:cuda" {
		r.GPUMemoryBytes = backend.GPUMemoryUsed()
	}
	return r, nil
}

// timeSteps runs step n times: the mean and the fastest step's time.
func timeSteps(step func() error, n int) (per, fastest time.Duration, err error) {
	t1 := time.Now()
	for i := range n {
		ts := time.Now()
		if err := step(); err != nil {
			return 0, 0, err
		}
		if d := time.Since(ts); i == 0 || d < fastest {
			fastest = d
		}
	}
	return time.Since(t1) / time.Duration(n), fastest, nil
}

// benchTrainStep attaches a rank-opts.Rank adapter to the blocks and
// returns a training step on random latents and embeddings.
func benchTrainStep(m *flux2.Model, opts BenchOptions, dtype dtypes.DType) ([]lora.Target, func() error, error) {
	c := m.Config
	targets, err := lora.Spec{Preset: lora.PresetBlocks, Rank: opts.Rank}.Plan(c)
	if err != nil {
		return nil, nil, err
	}
	if err := lora.Attach(m, lora.NewAdapter(targets, 1), 1, true); err != nil {
		return nil, nil, err
	}
	h := opts.Res / 16
	samples := make([]train.Sample, opts.Batch)
	rng := rand.New(rand.NewPCG(1, 1))
	normal := func(n int) []float32 {
		out := make([]float32, n)
		for j := range out {
			out[j] = float32(rng.NormFloat64())
		}
		return out
	}
	for i := range samples {
		lat := normal(c.InChannels * h * h)
		samples[i] = train.Sample{Latent: lat, C: c.InChannels, H: h, W: h, Embedding: normal(opts.TextTokens * c.ContextDim),
			L: opts.TextTokens, D: c.ContextDim}
	}
	src, err := train.NewMemorySource(samples, opts.Batch, 1)
	if err != nil {
		return nil, nil, err
	}
	tr, err := train.NewTrainer(m, src, train.Options{Steps: opts.Steps + 1, GradAccum: 1,
		Timesteps: train.TimestepSampler{Kind: "uniform"}, LR: train.LRSchedule{Kind: "constant", Base: 1e-4, Total: opts.Steps + 1},
		Optimizer: train.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, MaxGradNorm: 1}, Guidance: 1, DType: dtype,
		Checkpointing: opts.Checkpointing, Memory: m.Memory, Seed: 1})
	if err != nil {
		return nil, nil, err
	}
	return targets, func() error { _, err := tr.Step(); return err }, nil
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
