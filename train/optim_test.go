package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// hostAdamW is an independent float64 reference of AdamW with global-norm
// clipping as torch.nn.utils.clip_grad_norm_ does it.
type hostAdamW struct {
	cfg  AdamWConfig
	m, v [][]float64
	step int
}

func (h *hostAdamW) update(params, grads [][]float64, lr, gradScale float64) float64 {
	if h.m == nil {
		for _, p := range params {
			h.m = append(h.m, make([]float64, len(p)))
			h.v = append(h.v, make([]float64, len(p)))
		}
	}
	var sq float64
	for _, g := range grads {
		for _, x := range g {
			sq += (x * gradScale) * (x * gradScale)
		}
	}
	norm := math.Sqrt(sq)
	clip := 1.0
	if h.cfg.MaxGradNorm > 0 {
		clip = math.Min(1, h.cfg.MaxGradNorm/(norm+1e-6))
	}
	h.step++
	bc1 := 1 - math.Pow(h.cfg.Beta1, float64(h.step))
	bc2 := 1 - math.Pow(h.cfg.Beta2, float64(h.step))
	for i, p := range params {
		for j := range p {
			g := grads[i][j] * gradScale * clip
			h.m[i][j] = h.cfg.Beta1*h.m[i][j] + (1-h.cfg.Beta1)*g
			h.v[i][j] = h.cfg.Beta2*h.v[i][j] + (1-h.cfg.Beta2)*g*g
			upd := (h.m[i][j]/bc1)/(math.Sqrt(h.v[i][j]/bc2)+h.cfg.Epsilon) + h.cfg.WeightDecay*p[j]
			p[j] -= lr * upd
		}
	}
	return norm
}

func TestAdamWMatchesReference(t *testing.T) {
	for _, clipNorm := range []float64{0, 0.5} {
		cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 1e-2, MaxGradNorm: clipNorm}
		dims := [][]int{{3, 5}, {7}}
		rng := rand.New(rand.NewPCG(1, 2))
		ref := &hostAdamW{cfg: cfg}
		hp := [][]float64{randVec(rng, 15), randVec(rng, 7)}
		params := []*tensors.Tensor{toT(hp[0], 3, 5), toT(hp[1], 7)}
		opt, err := NewAdamW(testutil.Backend(t), cfg, []string{"a", "b"}, dims)
		if err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 5; step++ {
			hg := [][]float64{randVec(rng, 15), randVec(rng, 7)}
			wantNorm := ref.update(hp, hg, 1e-2, 0.5)
			res, err := opt.Update(params, []*tensors.Tensor{toT(hg[0], 3, 5), toT(hg[1], 7)}, 1e-2, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(res.GradNorm-wantNorm) > 1e-5*wantNorm {
				t.Errorf("step %d: grad norm %g, want %g", step, res.GradNorm, wantNorm)
			}
			params = res.Params
			for i := range params {
				got := tensors.MustCopyFlatData[float32](params[i])
				for j := range got {
					if math.Abs(float64(got[j])-hp[i][j]) > 1e-6 {
						t.Fatalf("clip %g step %d param %d[%d] = %g, want %g", clipNorm, step, i, j, got[j], hp[i][j])
					}
				}
			}
		}
		if opt.Step != 5 {
			t.Errorf("Step = %d", opt.Step)
		}
	}
}

// TestMomentQuantization bounds the round-trip error of the 8-bit moment
// codes: relative to the block maximum, ≤ 1.6% for m (√-map, 127 levels)
// and ≤ 1.6% for v (⁴√-map, 255 levels) near the top of the range; and a
// value whose v code is zero has an m code of zero too.
func TestMomentQuantization(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 1000 // not a multiple of 64: exercises padding
	g := make([]float32, n)
	for i := range g {
		g[i] = float32(rng.NormFloat64() * math.Pow(10, -4*rng.Float64()))
	}
	m := make([]float32, n)
	v := make([]float32, n)
	for i, x := range g {
		m[i], v[i] = 0.1*x, 0.001*x*x
	}
	outs := MustExecOnceN(testutil.Backend(t), func(m, v *Node) []*Node {
		mq, ms := quantizeMoment(m, true)
		vq, vs := quantizeMoment(v, false)
		return []*Node{dequantizeMoment(mq, ms, []int{n}, true), dequantizeMoment(vq, vs, []int{n}, false)}
	}, toT32(m), toT32(v))
	mm := tensors.MustCopyFlatData[float32](outs[0])
	vv := tensors.MustCopyFlatData[float32](outs[1])
	for b := 0; b*momentBlock < n; b++ {
		lo, hi := b*momentBlock, min(n, (b+1)*momentBlock)
		var mMax, vMax float64
		for i := lo; i < hi; i++ {
			mMax = math.Max(mMax, math.Abs(float64(m[i])))
			vMax = math.Max(vMax, float64(v[i]))
		}
		for i := lo; i < hi; i++ {
			if e := math.Abs(float64(mm[i]-m[i])) / mMax; e > 0.016 {
				t.Errorf("m[%d] error %.4f of block max", i, e)
			}
			if e := math.Abs(float64(vv[i]-v[i])) / vMax; e > 0.016 {
				t.Errorf("v[%d] error %.4f of block max", i, e)
			}
			if vv[i] == 0 && mm[i] != 0 {
				t.Errorf("element %d: v quantized to 0 but m = %g", i, mm[i])
			}
		}
	}
}

// TestAdamW8BitTracksFP32 optimises a least-squares problem with both state
// formats: the 8-bit run must reach a loss close to the float32 run's.
func TestAdamW8BitTracksFP32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 200
	target := randVec(rng, n)
	run := func(eightBit bool) float64 {
		opt, err := NewAdamW(testutil.Backend(t), AdamWConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, EightBit: eightBit}, []string{"p"}, [][]int{{n}})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]float64, n)
		params := []*tensors.Tensor{toT(p, n)}
		var loss float64
		for step := 0; step < 300; step++ {
			cur := tensors.MustCopyFlatData[float32](params[0])
			grad := make([]float64, n)
			loss = 0
			for i := range cur {
				d := float64(cur[i]) - target[i]
				grad[i] = 2 * d
				loss += d * d
			}
			res, err := opt.Update(params, []*tensors.Tensor{toT(grad, n)}, 0.05, 1)
			if err != nil {
				t.Fatal(err)
			}
			params = res.Params
		}
		return loss / n
	}
	full, eight := run(false), run(true)
	t.Logf("final loss float32 %.3g, 8-bit %.3g", full, eight)
	if eight > 2*full+1e-3 {
		t.Errorf("8-bit AdamW final loss %.3g vs float32 %.3g", eight, full)
	}
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func toT(v []float64, dims ...int) *tensors.Tensor {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensors.FromFlatDataAndDimensions(f, dims...)
}

func toT32(v []float32) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(v, len(v)) }

// TestOptimizerConfigValidate: the defaults are valid and each bad setting
// is refused with its name.
func TestOptimizerConfigValidate(t *testing.T) {
	base := OptimizerConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Prodigy: DefaultProdigyConfig(), Adafactor: DefaultAdafactorConfig()}
	for _, c := range []struct {
		name string
		edit func(*OptimizerConfig)
		want string // "" valid
	}{
		{"adamw", func(*OptimizerConfig) {}, ""},
		{"prodigy", func(c *OptimizerConfig) { c.Name = OptimizerProdigy }, ""},
		{"adafactor", func(c *OptimizerConfig) { c.Name = OptimizerAdafactor }, ""},
		{"unknown", func(c *OptimizerConfig) { c.Name = "lion" }, "unknown optimizer"},
		{"prodigy d0", func(c *OptimizerConfig) { c.Name, c.Prodigy.D0 = OptimizerProdigy, 0 }, "d0"},
		{"prodigy d_coef", func(c *OptimizerConfig) { c.Name, c.Prodigy.DCoef = OptimizerProdigy, -1 }, "d_coef"},
		{"prodigy beta3", func(c *OptimizerConfig) { c.Name, c.Prodigy.Beta3 = OptimizerProdigy, 1 }, "beta3"},
		{"prodigy growth", func(c *OptimizerConfig) { c.Name, c.Prodigy.GrowthRate = OptimizerProdigy, 0.5 }, "growth"},
		{"prodigy 8-bit", func(c *OptimizerConfig) { c.Name, c.EightBit = OptimizerProdigy, true }, "8-bit"},
		{"adafactor warmup_init", func(c *OptimizerConfig) { c.Name, c.Adafactor.WarmupInit = OptimizerAdafactor, true }, "warmup_init needs relative_step"},
		{"adafactor decay", func(c *OptimizerConfig) { c.Name, c.Adafactor.DecayRate = OptimizerAdafactor, 0.8 }, "decay_rate"},
		{"adafactor clip", func(c *OptimizerConfig) { c.Name, c.Adafactor.ClipThreshold = OptimizerAdafactor, 0 }, "clip_threshold"},
		{"adafactor beta1", func(c *OptimizerConfig) { c.Name, c.Adafactor.Beta1 = OptimizerAdafactor, 1 }, "beta1"},
		{"adafactor eps1", func(c *OptimizerConfig) { c.Name, c.Adafactor.Eps1 = OptimizerAdafactor, 0 }, "eps1"},
		{"beta2", func(c *OptimizerConfig) { c.Beta2 = 1 }, "beta2"},
	} {
		cfg := base
		c.edit(&cfg)
		err := cfg.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if got := []int64{base.StateBytesPerParam(), OptimizerConfig{EightBit: true}.StateBytesPerParam(),
		OptimizerConfig{Name: OptimizerProdigy}.StateBytesPerParam(), OptimizerConfig{Name: OptimizerAdafactor}.StateBytesPerParam(),
		OptimizerConfig{Name: OptimizerAdafactor, Adafactor: AdafactorConfig{Beta1: 0.9}}.StateBytesPerParam()}; !slices.Equal(got, []int64{8, 2, 16, 0, 4}) {
		t.Errorf("state bytes per param %v", got)
	}
}
