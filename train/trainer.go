package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/memtrim"
	"github.com/flora-ml/flora/model/flux2"
)

// Options configure the training loop.
type Options struct {
	// Steps is the number of optimizer steps of the run.
	Steps int
	// GradAccum micro-batches are accumulated per optimizer step.
	GradAccum int
	Timesteps TimestepSampler
	LR        LRSchedule
	// Optimizer chooses and configures the optimizer (AdamW, Prodigy or
	// Adafactor).
	Optimizer OptimizerConfig
	// Guidance is fed to the guidance embedder of guidance-distilled
	// variants (dev); ignored by models without one.
	Guidance float64
	// DType is the compute dtype (Float32 or BFloat16).
	DType dtypes.DType
	// Checkpointing runs the model block by block, recomputing activations
	// in the backward pass (memory for one block's activations).
	Checkpointing bool
	// Memory is what the step keeps in host memory (activation offload,
	// block swap); either runs the model block by block.
	Memory flux2.MemoryOptions
	// Parallel splits each step over several devices (see
	// flux2.ParallelOptions); the zero value uses one.
	Parallel flux2.ParallelOptions
	// ReferenceDropout is the probability that a step whose samples have
	// reference images trains without them (so the adapter also works
	// without references).
	ReferenceDropout float64
	// EMADecay keeps an exponential moving average of the trainable
	// weights when > 0.
	EMADecay float64
	// Seed seeds the trainer's RNG (timesteps and noise).
	Seed uint64
	// Backend names the compute backend; it is recorded in checkpoints.
	Backend string
}

// Trainer runs flow-matching LoRA training on a model whose trainable
// variables (the adapter) it updates in place.
type Trainer struct {
	model *flux2.Model
	src   BatchSource
	opts  Options
	names []string
	opt   Optimizer
	pcg   *rand.PCG
	rng   *rand.Rand
	// step counts completed optimizer steps.
	step int
	// trimmed is set once freed memory was returned after the first step.
	trimmed bool
	ema     []*tensors.Tensor
	// smooth is the smoothed loss; elapsed the run's time up to the last
	// checkpoint saved or restored (both continue across resumes).
	smooth  Smoother
	elapsed time.Duration
	// programs
	accExec, emaExec *Exec
}

// StepResult reports one optimizer step.
type StepResult struct {
	// Step is the 1-based number of the step just completed.
	Step int
	// Loss is the mean loss of the step's micro-batches, LossSmooth its
	// exponential moving average over the run (continued across resumes).
	Loss, LossSmooth float64
	// LR is the learning rate used, GradNorm the global gradient norm
	// before clipping.
	LR, GradNorm float64
	// Timesteps are the flow times drawn for the step's samples.
	Timesteps []float64
	Duration  time.Duration
}

// ErrNonFinite is returned when the loss or the gradients are NaN or Inf;
// the model is left as it was before the step.
var ErrNonFinite = errors.New("loss or gradient norm is not finite (NaN/Inf)")

// NewTrainer prepares training of the model's trainable variables.
func NewTrainer(model *flux2.Model, src BatchSource, opts Options) (*Trainer, error) {
	if opts.Steps < 1 {
		return nil, fmt.Errorf("training steps must be >= 1, got %d", opts.Steps)
	}
	if opts.GradAccum < 1 {
		opts.GradAccum = 1
	}
	if opts.DType == dtypes.InvalidDType {
		opts.DType = dtypes.Float32
	}
	if err := opts.Memory.Validate(model.Config); err != nil {
		return nil, err
	}
	model.Memory = opts.Memory
	if err := opts.Parallel.Validate(opts.Memory, 0); err != nil {
		return nil, err
	}
	model.Parallel = opts.Parallel
	names := model.TrainableNames()
	if len(names) == 0 {
		return nil, errors.New("the model has no trainable variables (attach an adapter first)")
	}
	dims := make([][]int, len(names))
	for i, n := range names {
		v := model.Variable(n)
		if v.DType() != dtypes.Float32 {
			return nil, fmt.Errorf("trainable variable %s is %s; trainable weights must be float32", n, v.DType())
		}
		dims[i] = v.Shape().Dimensions
	}
	opt, err := NewOptimizer(model.Backend(), opts.Optimizer, names, dims)
	if err != nil {
		return nil, err
	}
	pcg := rand.NewPCG(opts.Seed, 0xf10a)
	t := &Trainer{model: model, src: src, opts: opts, names: names, opt: opt, pcg: pcg, rng: rand.New(pcg)}
	if opts.EMADecay > 0 {
		for _, n := range names {
			v, err := model.Variable(n).Value()
			if err != nil {
				return nil, err
			}
			c, err := v.LocalClone()
			if err != nil {
				return nil, err
			}
			t.ema = append(t.ema, c)
		}
	}
	return t, nil
}

// StepsDone returns the number of completed optimizer steps.
func (t *Trainer) StepsDone() int { return t.step }

// Done reports whether the run reached its final step.
func (t *Trainer) Done() bool { return t.step >= t.opts.Steps }

// Step runs one optimizer step: GradAccum forward+backward passes on
// batches from the source, then the optimizer's update of the trainable
// weights.
func (t *Trainer) Step() (*StepResult, error) {
	start := time.Now()
	res := &StepResult{Step: t.step + 1}
	var acc []*tensors.Tensor
	var lossSum float64
	for micro := 0; micro < t.opts.GradAccum; micro++ {
		tb, ts, err := t.nextBatch()
		if err != nil {
			return nil, err
		}
		res.Timesteps = append(res.Timesteps, ts...)
		g, err := t.model.LossAndGradients(tb, t.opts.DType, t.opts.Checkpointing)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", res.Step, err)
		}
		lossSum += float64(g.Loss)
		grads := make([]*tensors.Tensor, len(t.names))
		for i, n := range t.names {
			grads[i] = g.Grads[n]
		}
		if acc == nil {
			acc = grads
		} else if acc, err = t.accumulate(acc, grads); err != nil {
			return nil, err
		}
	}
	res.Loss = lossSum / float64(t.opts.GradAccum)
	lr, err := t.opts.LR.At(t.step)
	if err != nil {
		return nil, err
	}
	res.LR = lr
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return res, fmt.Errorf("step %d: loss %v: %w", res.Step, res.Loss, ErrNonFinite)
	}
	params := make([]*tensors.Tensor, len(t.names))
	for i, n := range t.names {
		if params[i], err = t.model.Variable(n).Value(); err != nil {
			return nil, err
		}
	}
	up, err := t.opt.Update(params, acc, lr, 1/float64(t.opts.GradAccum))
	if err != nil {
		return nil, fmt.Errorf("step %d: %w", res.Step, err)
	}
	res.GradNorm = up.GradNorm
	if math.IsNaN(up.GradNorm) || math.IsInf(up.GradNorm, 0) {
		return res, fmt.Errorf("step %d: gradient norm %v: %w", res.Step, up.GradNorm, ErrNonFinite)
	}
	for i, n := range t.names {
		if err := t.model.SetVariable(n, up.Params[i], true); err != nil {
			return nil, err
		}
	}
	if t.ema != nil {
		if err := t.updateEMA(up.Params); err != nil {
			return nil, err
		}
	}
	t.step++
	if !t.trimmed {
		// The first step compiled the step's programs: give back the
		// memory compiling used (XLA's freed C heap stays resident
		// otherwise, ~0.3 GiB on XLA CPU).
		t.trimmed = true
		memtrim.Release()
	}
	res.LossSmooth = t.smooth.Add(res.Loss)
	res.Duration = time.Since(start)
	return res, nil
}

// nextBatch draws a batch, its timesteps and noise, and builds the
// flow-matching inputs x_t = (1−t)·x0 + t·ε with target ε − x0.
func (t *Trainer) nextBatch() (*flux2.TrainBatch, []float64, error) {
	samples, err := t.src.Next()
	if err != nil {
		return nil, nil, fmt.Errorf("reading training data: %w", err)
	}
	if len(samples) == 0 {
		return nil, nil, errors.New("training data source returned an empty batch")
	}
	cfg := t.model.Config
	s0 := samples[0]
	b, n, c := len(samples), s0.H*s0.W, s0.C
	if c != cfg.InChannels || s0.D != cfg.ContextDim {
		return nil, nil, fmt.Errorf("sample %s has %d latent channels and %d-wide text embeddings; the model needs %d and %d",
			s0.Key, c, s0.D, cfg.InChannels, cfg.ContextDim)
	}
	refs, err := referencesOf(samples)
	if err != nil {
		return nil, nil, err
	}
	if refs != nil && t.opts.ReferenceDropout > 0 && t.rng.Float64() < t.opts.ReferenceDropout {
		refs = nil // this step trains without its references
	}
	nr := n + refs.len()
	xt := make([]float32, b*nr*c)
	target := make([]float32, b*n*c)
	ctx := make([]float32, b*s0.L*s0.D)
	ts := make([]float64, b)
	tsF := make([]float32, b)
	weights := make([]float32, b)
	weighted := false // a sample's folder weight is not 1
	mask, err := lossMask(samples, n)
	if err != nil {
		return nil, nil, err
	}
	for i, s := range samples {
		if s.H != s0.H || s.W != s0.W || s.L != s0.L || s.C != c || s.D != s0.D {
			return nil, nil, fmt.Errorf("batch mixes sizes: %s is %dx%d/%d tokens, %s is %dx%d/%d", s0.Key, s0.H, s0.W, s0.L, s.Key, s.H, s.W, s.L)
		}
		tt, w, err := t.opts.Timesteps.Sample(t.rng, n)
		if err != nil {
			return nil, nil, err
		}
		ts[i], tsF[i], weights[i] = tt, float32(tt), float32(w*s.LossWeight())
		weighted = weighted || s.LossWeight() != 1
		noisedTokens(xt[i*nr*c:], target[i*n*c:], s.Latent, c, s.H, s.W, tt, t.rng)
		refs.appendTo(xt, i, n, c)
		copy(ctx[i*s0.L*s0.D:], s.Embedding)
	}
	var guidance *tensors.Tensor
	if cfg.GuidanceEmbed {
		g := make([]float32, b)
		for i := range g {
			g[i] = float32(t.opts.Guidance)
		}
		guidance = tensors.FromFlatDataAndDimensions(g, b)
	}
	batch, err := t.model.NewBatch(
		tensors.FromFlatDataAndDimensions(xt, b, nr, c),
		tensors.FromFlatDataAndDimensions(ctx, b, s0.L, s0.D),
		tensors.FromFlatDataAndDimensions(tsF, b), guidance,
		flux2.TextIDs(b, s0.L), refs.imageIDs(b, s0.H, s0.W))
	if err != nil {
		return nil, nil, err
	}
	tb := &flux2.TrainBatch{Batch: batch, Target: tensors.FromFlatDataAndDimensions(target, b, n, c)}
	if weighted || (t.opts.Timesteps.LossWeighting != "" && t.opts.Timesteps.LossWeighting != "none") || t.opts.Timesteps.Kind == "weighted" {
		tb.Weight = tensors.FromFlatDataAndDimensions(weights, b)
	}
	if mask != nil {
		tb.Mask = tensors.FromFlatDataAndDimensions(mask, b, n)
	}
	return tb, ts, nil
}

// lossMask stacks the samples' per-token loss weights into [B, N] (a
// sample without a mask weighs 1 everywhere), or returns nil when every
// weight is 1: batches without masks, or whose masks are all inside, run
// the unmasked loss (the programs runs without masks always ran).
func lossMask(samples []Sample, n int) ([]float32, error) {
	var out []float32
	for i, s := range samples {
		if s.Mask == nil {
			continue
		}
		if len(s.Mask) != n {
			return nil, fmt.Errorf("sample %s: loss mask of %d token weights for %d tokens (%dx%d); the mask must be averaged to the latent grid", s.Key, len(s.Mask), n, s.H, s.W)
		}
		if out == nil && !slices.ContainsFunc(s.Mask, func(w float32) bool { return w != 1 }) {
			continue
		}
		if out == nil {
			out = make([]float32, len(samples)*n)
			for j := range out {
				out[j] = 1
			}
		}
		copy(out[i*n:], s.Mask)
	}
	return out, nil
}

// accumulate returns acc + g element-wise (float32).
func (t *Trainer) accumulate(acc, g []*tensors.Tensor) ([]*tensors.Tensor, error) {
	if t.accExec == nil {
		e, err := NewExec(t.model.Backend(), func(in []*Node) []*Node {
			n := len(in) / 2
			out := make([]*Node, n)
			for i := range out {
				out[i] = Add(in[i], ConvertDType(in[n+i], dtypes.Float32))
			}
			return out
		})
		if err != nil {
			return nil, err
		}
		t.accExec = e
	}
	args := make([]any, 0, 2*len(acc))
	for _, a := range acc {
		args = append(args, a)
	}
	for _, x := range g {
		args = append(args, x)
	}
	return t.accExec.Exec(args...)
}

// HasEMA reports whether the trainer keeps an exponential moving average
// of the trainable weights (Options.EMADecay > 0).
func (t *Trainer) HasEMA() bool { return t.ema != nil }

// WithEMA runs fn with the model's trainable weights set to their EMA (to
// export or preview the averaged adapter) and puts the trained weights
// back afterwards, also when fn fails. Without EMA it just runs fn. The
// swaps keep both sets of tensors alive (Variable.SetValue would free the
// value it replaces).
func (t *Trainer) WithEMA(fn func() error) (err error) {
	if t.ema == nil {
		return fn()
	}
	trained := make([]*tensors.Tensor, len(t.names))
	for i, n := range t.names {
		if trained[i], err = t.model.Variable(n).Value(); err != nil {
			return err
		}
	}
	swap := func(values []*tensors.Tensor) error {
		for i, n := range t.names {
			if err := t.model.Variable(n).SetValuePreservingOld(values[i]); err != nil {
				return fmt.Errorf("swapping %s for its EMA: %w", n, err)
			}
		}
		return nil
	}
	defer func() {
		if rerr := swap(trained); err == nil {
			err = rerr
		}
	}()
	if err := swap(t.ema); err != nil {
		return err
	}
	return fn()
}

// updateEMA sets ema ← decay·ema + (1−decay)·params.
func (t *Trainer) updateEMA(params []*tensors.Tensor) error {
	if t.emaExec == nil {
		d := t.opts.EMADecay
		e, err := NewExec(t.model.Backend(), func(in []*Node) []*Node {
			n := len(in) / 2
			out := make([]*Node, n)
			for i := range out {
				out[i] = Add(MulScalar(in[i], d), MulScalar(in[n+i], 1-d))
			}
			return out
		})
		if err != nil {
			return err
		}
		t.emaExec = e
	}
	args := make([]any, 0, 2*len(params))
	for _, a := range t.ema {
		args = append(args, a)
	}
	for _, p := range params {
		args = append(args, p)
	}
	out, err := t.emaExec.Exec(args...)
	if err != nil {
		return fmt.Errorf("ema update: %w", err)
	}
	t.ema = out
	return nil
}
