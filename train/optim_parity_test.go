package train

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// optimReference is testdata/optim/optim_reference.json, written by
// tools/reference/optim_reference.py from prodigyopt and transformers.
type optimReference struct {
	Versions map[string]string      `json:"versions"`
	Shapes   map[string][]int       `json:"shapes"`
	Init     map[string][]float32   `json:"init"`
	Grads    []map[string][]float32 `json:"grads"`
	Cases    []struct {
		Name        string         `json:"name"`
		Optimizer   string         `json:"optimizer"`
		Kwargs      map[string]any `json:"kwargs"`
		LR          []*float64     `json:"lr"`
		MaxGradNorm float64        `json:"max_grad_norm"`
		Steps       []struct {
			Params     map[string][]float32 `json:"params"`
			GradNorm   float64              `json:"grad_norm"`
			D          float64              `json:"d"`
			DMax       float64              `json:"d_max"`
			DNumerator float64              `json:"d_numerator"`
			K          int                  `json:"k"`
		} `json:"steps"`
	} `json:"cases"`
}

// referenceConfig turns a reference case's Python constructor arguments
// into Flora's optimizer config: the Python defaults where an argument is
// absent.
func referenceConfig(t *testing.T, optimizer string, kw map[string]any, maxNorm float64) OptimizerConfig {
	t.Helper()
	num := func(k string, def float64) float64 {
		v, ok := kw[k]
		if !ok {
			return def
		}
		if v == nil {
			return 0
		}
		return v.(float64)
	}
	flag := func(k string, def bool) bool {
		if v, ok := kw[k]; ok {
			return v.(bool)
		}
		return def
	}
	pair := func(k string, a, b float64) (float64, float64) {
		if v, ok := kw[k]; ok {
			l := v.([]any)
			return l[0].(float64), l[1].(float64)
		}
		return a, b
	}
	cfg := OptimizerConfig{Name: optimizer, WeightDecay: num("weight_decay", 0), MaxGradNorm: maxNorm}
	switch optimizer {
	case OptimizerProdigy:
		cfg.Beta1, cfg.Beta2 = pair("betas", 0.9, 0.999)
		cfg.Epsilon = num("eps", 1e-8)
		cfg.Prodigy = ProdigyConfig{D0: num("d0", 1e-6), DCoef: num("d_coef", 1), Beta3: num("beta3", 0),
			GrowthRate: num("growth_rate", 0), UseBiasCorrection: flag("use_bias_correction", false),
			SafeguardWarmup: flag("safeguard_warmup", false), CoupledWeightDecay: !flag("decouple", true)}
	case OptimizerAdafactor:
		a := AdafactorConfig{RelativeStep: flag("relative_step", true), ScaleParameter: flag("scale_parameter", true),
			WarmupInit: flag("warmup_init", false), ClipThreshold: num("clip_threshold", 1),
			DecayRate: num("decay_rate", -0.8), Beta1: num("beta1", 0)}
		a.Eps1, a.Eps2 = pair("eps", 1e-30, 1e-3)
		cfg.Adafactor = a
	default:
		t.Fatalf("unknown optimizer %q", optimizer)
	}
	return cfg
}

// relErr is max|got − want| / max|want| (the error relative to the
// tensor's scale).
func relErr(got, want []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

func relErr64(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

// TestOptimizersMatchReference feeds the gradients of the reference
// fixtures to Prodigy and Adafactor and checks every step's parameters
// (and Prodigy's d, d_max and d_numerator) against prodigyopt's and
// transformers' within 1e-5 relative.
func TestOptimizersMatchReference(t *testing.T) {
	js, err := os.ReadFile("../testdata/optim/optim_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref optimReference
	if err := json.Unmarshal(js, &ref); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c"}
	dims := make([][]int, len(names))
	for i, n := range names {
		dims[i] = ref.Shapes[n]
	}
	const tol = 1e-5
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg := referenceConfig(t, c.Optimizer, c.Kwargs, c.MaxGradNorm)
			opt, err := NewOptimizer(testutil.Backend(t), cfg, names, dims)
			if err != nil {
				t.Fatal(err)
			}
			params := make([]*tensors.Tensor, len(names))
			for i, n := range names {
				params[i] = tensors.FromFlatDataAndDimensions(append([]float32(nil), ref.Init[n]...), dims[i]...)
			}
			var worst float64
			for step, want := range c.Steps {
				grads := make([]*tensors.Tensor, len(names))
				for i, n := range names {
					grads[i] = tensors.FromFlatDataAndDimensions(append([]float32(nil), ref.Grads[step][n]...), dims[i]...)
				}
				lr := 1.0 // unused by relative-step Adafactor (lr None)
				if c.LR[step] != nil {
					lr = *c.LR[step]
				}
				res, err := opt.Update(params, grads, lr, 1)
				if err != nil {
					t.Fatal(err)
				}
				params = res.Params
				if e := relErr64(res.GradNorm, want.GradNorm); e > tol {
					t.Errorf("step %d: grad norm %g, reference %g", step+1, res.GradNorm, want.GradNorm)
				}
				for i, n := range names {
					e := relErr(tensors.MustCopyFlatData[float32](params[i]), want.Params[n])
					worst = math.Max(worst, e)
					if e > tol {
						t.Errorf("step %d: %s differs by %.3g relative", step+1, n, e)
					}
				}
				if p, ok := opt.(*Prodigy); ok {
					st := p.State()
					for _, s := range []struct {
						what      string
						got, want float64
					}{{"d", st.Scalars["d"], want.D}, {"d_max", st.Scalars["d_max"], want.DMax}, {"d_numerator", st.Scalars["d_numerator"], want.DNumerator}} {
						e := relErr64(s.got, s.want)
						worst = math.Max(worst, e)
						if e > tol {
							t.Errorf("step %d: %s = %.9g, reference %.9g", step+1, s.what, s.got, s.want)
						}
					}
					if p.Steps() != want.K {
						t.Errorf("step %d: k = %d, reference %d", step+1, p.Steps(), want.K)
					}
				}
			}
			t.Logf("%s: worst relative error over %d steps %.2g", c.Name, len(c.Steps), worst)
		})
	}
}
