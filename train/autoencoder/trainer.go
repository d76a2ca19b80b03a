package autoencoder

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/train"
)

// The latent BatchNorm statistics: set from the data (SetLatentStats),
// never trained.
const (
	bnMean = "bn.running_mean"
	bnVar  = "bn.running_var"
)

// Trainer trains the weights of one autoencoder in place.
type Trainer struct {
	backend backends.Backend
	vae     *vae.VAE
	images  *Images
	opts    Options
	// names are the trainable weights (every weight but the BatchNorm
	// statistics), sorted.
	names []string
	opt   train.Optimizer
	// pcg drives crops, flips and the posterior noise; its state is
	// checkpointed so a resumed run draws what the straight run would.
	pcg     *rand.PCG
	rng     *rand.Rand
	step    int
	smooth  smoother
	elapsed time.Duration
	exec    *Exec
	stats   *Exec
}

// New prepares training of v (float32 weights, all set) on images.
func New(backend backends.Backend, v *vae.VAE, images *Images, opts Options) (*Trainer, error) {
	ph, pw := v.Config.PixelsPerLatent()
	if err := opts.validate(ph, pw); err != nil {
		return nil, fmt.Errorf("autoencoder training: %w", err)
	}
	if v.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("autoencoder training needs float32 weights, the autoencoder computes in %s", v.DType())
	}
	if missing := v.MissingWeights(); len(missing) > 0 {
		return nil, fmt.Errorf("autoencoder training: %d weights have no value (first: %s)", len(missing), missing[0])
	}
	if err := images.check(opts.Crop); err != nil {
		return nil, fmt.Errorf("autoencoder training: %w", err)
	}
	opts.LR.Total = opts.Steps
	if _, err := opts.LR.At(0); err != nil {
		return nil, err
	}
	t := &Trainer{backend: backend, vae: v, images: images, opts: opts}
	shapes := v.Config.ParamShapes()
	var dims [][]int
	for _, n := range v.Config.ParamNames() {
		if n != bnMean && n != bnVar {
			t.names = append(t.names, n)
		}
	}
	slices.Sort(t.names)
	for _, n := range t.names {
		dims = append(dims, shapes[n])
	}
	var err error
	if t.opt, err = train.NewOptimizer(backend, opts.Optimizer, t.names, dims); err != nil {
		return nil, err
	}
	t.pcg = rand.NewPCG(opts.Seed, 0x6175746f656e63) // "autoenc"
	t.rng = rand.New(t.pcg)
	return t, nil
}

// StepsDone is the number of steps trained so far.
func (t *Trainer) StepsDone() int { return t.step }

// TrainableNames lists the trained weights (official names, sorted).
func (t *Trainer) TrainableNames() []string { return slices.Clone(t.names) }

// NumParams is the number of trained values.
func (t *Trainer) NumParams() int64 {
	var n int64
	shapes := t.vae.Config.ParamShapes()
	for _, name := range t.names {
		s := int64(1)
		for _, d := range shapes[name] {
			s *= int64(d)
		}
		n += s
	}
	return n
}

// params returns the current trainable weights in names order.
func (t *Trainer) params() []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(t.names))
	for i, n := range t.names {
		out[i] = t.vae.Weight(n)
	}
	return out
}

// noise draws the posterior noise ε [n, Z, crop/f, crop/f].
func (t *Trainer) noise(n int) *tensors.Tensor {
	c := t.vae.Config
	side := t.opts.Crop / c.DownFactor()
	vals := make([]float32, n*c.ZChannels*side*side)
	for i := range vals {
		vals[i] = float32(t.rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(vals, n, c.ZChannels, side, side)
}

// lossAndGrads evaluates the loss (total, reconstruction, KL) and its
// gradients for pixels, noise and the given trainable weights.
func (t *Trainer) lossAndGrads(pixels, eps *tensors.Tensor, params []*tensors.Tensor) (loss [3]float64, grads []*tensors.Tensor, err error) {
	if t.exec == nil {
		e, err := NewExec(t.backend, lossGraph(t.vae.Net(), t.names, t.opts.klWeight()))
		if err != nil {
			return loss, nil, fmt.Errorf("building the autoencoder training program: %w", err)
		}
		t.exec = e.WithName("autoencoder_train")
	}
	args := make([]any, 0, 2+len(params))
	args = append(args, pixels, eps)
	for _, p := range params {
		args = append(args, p)
	}
	outs, err := t.exec.Exec(args...)
	if err != nil {
		return loss, nil, fmt.Errorf("autoencoder training step: %w", err)
	}
	for i := range loss {
		loss[i] = float64(tensors.ToScalar[float32](outs[i]))
	}
	return loss, outs[3:], nil
}

// Step trains one step: a batch of random crops, the loss and its
// gradients, one optimizer update. A non-finite loss or gradient norm
// leaves the weights as they were and returns train.ErrNonFinite.
func (t *Trainer) Step() (*train.StepResult, error) {
	start := time.Now()
	lr, err := t.opts.LR.At(t.step)
	if err != nil {
		return nil, err
	}
	pixels, err := t.images.batch(t.rng, t.opts.BatchSize, t.opts.Crop, t.opts.Flip)
	if err != nil {
		return nil, err
	}
	params := t.params()
	loss, grads, err := t.lossAndGrads(pixels, t.noise(t.opts.BatchSize), params)
	if err != nil {
		return nil, err
	}
	if !finite(loss[0]) {
		return nil, fmt.Errorf("step %d: loss %g: %w", t.step+1, loss[0], train.ErrNonFinite)
	}
	up, err := t.opt.Update(params, grads, lr, 1)
	if err != nil {
		return nil, err
	}
	if !finite(up.GradNorm) {
		return nil, fmt.Errorf("step %d: gradient norm %g: %w", t.step+1, up.GradNorm, train.ErrNonFinite)
	}
	for i, n := range t.names {
		if err := t.vae.SetWeight(n, up.Params[i]); err != nil {
			return nil, err
		}
	}
	t.step++
	d := time.Since(start)
	t.elapsed += d
	return &train.StepResult{Step: t.step, Loss: loss[0], LossSmooth: t.smooth.add(loss[0]), LR: lr, GradNorm: up.GradNorm, Duration: d}, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// smoother is the exponential moving average of the loss (β = 0.98,
// bias-corrected), with its state exported to checkpoints.
type smoother struct {
	Value float64 `json:"value"`
	N     int     `json:"n"`
}

func (s *smoother) add(x float64) float64 {
	const beta = 0.98
	s.N++
	s.Value = beta*s.Value + (1-beta)*x
	return s.Value / (1 - math.Pow(beta, float64(s.N)))
}

// errNoImages is returned by statistics over an empty image set.
var errNoImages = errors.New("no images")
