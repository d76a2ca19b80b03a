package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
)

func gaussian(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
	}
	return w
}

// TestRoundTripBounds quantizes Gaussian weights [768, 3072] and bounds the
// relative L2 reconstruction error of each scheme. The bounds follow from the
// formats: int8 has a uniform step Δ = max|row|/127 ≈ 4.2σ/127 for 3072
// Gaussian values, so the error is Δ/√12 ≈ 0.0095σ (bound 1.2%); e4m3 keeps 3
// mantissa bits, a relative error of at most 2^-4 per value and about
// 2^-4/√3 ≈ 3.6% rms for values in the normal range (bound 4%); NF4 has 16
// levels per block of 64 and lands near 10% (bound 11%). Double quantization
// of NF4's scales may add little (bound 11.5%).
func TestRoundTripBounds(t *testing.T) {
	const rows, cols = 768, 3072
	w := gaussian(rows*cols, 1)
	q8, s8 := QuantizeInt8(w, rows, cols)
	f8, sf := QuantizeFP8(w, rows, cols)
	nf, am, err := QuantizeNF4(w)
	if err != nil {
		t.Fatal(err)
	}
	dqCodes, dqScales, dqOff := QuantizeAbsmax(am)
	tests := []struct {
		name  string
		got   []float32
		bound float64
	}{
		{"int8", DequantizeInt8(q8, s8, rows, cols), 0.012},
		{"fp8", DequantizeFP8(f8, sf, rows, cols), 0.04},
		{"nf4", DequantizeNF4(nf, am, len(w)), 0.11},
		{"nf4+double", DequantizeNF4(nf, DequantizeAbsmax(dqCodes, dqScales, dqOff), len(w)), 0.115},
	}
	for _, tc := range tests {
		e := testutil.RelL2(tc.got, w)
		t.Logf("%s: relative L2 error %.4f (bound %.3f)", tc.name, e, tc.bound)
		if e > tc.bound {
			t.Errorf("%s: relative error %.4f > %.3f", tc.name, e, tc.bound)
		}
	}
	// Per-element bound of int8: |error| ≤ scale/2.
	d := DequantizeInt8(q8, s8, rows, cols)
	for i := range w {
		if math.Abs(float64(d[i]-w[i])) > float64(s8[i/cols])/2*1.0001 {
			t.Fatalf("int8 element %d error %g > scale/2 %g", i, d[i]-w[i], s8[i/cols]/2)
		}
	}
}

func TestE4M3(t *testing.T) {
	// Every finite code round-trips.
	for c := 0; c < 256; c++ {
		v := DecodeE4M3(byte(c))
		if v != v {
			if c&0x7f != 0x7f {
				t.Errorf("code %#x decodes to NaN", c)
			}
			continue
		}
		if back := EncodeE4M3(v); back != byte(c) && !(v == 0 && back&0x7f == 0) {
			t.Errorf("code %#x → %g → %#x", c, v, back)
		}
	}
	tests := []struct {
		x    float32
		want byte
	}{
		{448, 0x7e}, {1000, 0x7e}, {-1000, 0xfe}, {1, 0x38}, {0.5, 0x30},
		{float32(math.Ldexp(1, -9)), 0x01},  // smallest subnormal
		{float32(math.Ldexp(1, -10)), 0x00}, // half of it: tie to even (0)
		{1.0625, 0x38},                      // tie between 1 (even code) and 1.125
		{1.1875, 0x3a},                      // tie between 1.125 and 1.25 (even)
	}
	for _, tc := range tests {
		if got := EncodeE4M3(tc.x); got != tc.want {
			t.Errorf("EncodeE4M3(%g) = %#x, want %#x", tc.x, got, tc.want)
		}
	}
	if DecodeE4M3(0x7e) != 448 || DecodeE4M3(0x01) != float32(math.Ldexp(1, -9)) {
		t.Error("decode of extremes is wrong")
	}
}

func TestNF4Packing(t *testing.T) {
	w := []float32{-1, 1, 0, 0.5, -0.3, 0.08}
	packed, absmax, err := QuantizeNF4(w)
	if err != nil {
		t.Fatal(err)
	}
	// Element 0 (-1 → code 0) in the high nibble, element 1 (1 → code 15) low.
	if packed[0] != 0x0f || absmax[0] != 1 {
		t.Errorf("packed[0] = %#x absmax %g, want 0x0f 1", packed[0], absmax[0])
	}
	if packed[1]>>4 != 7 { // 0 → code 7 (exact zero)
		t.Errorf("zero code %d", packed[1]>>4)
	}
	if _, _, err := QuantizeNF4([]float32{1, 2, 3}); err == nil {
		t.Error("odd length accepted")
	}
}

// tinyModel returns a random tiny FLUX.2 model, float32.
func tinyModel(t *testing.T, opts *Options) *flux2.Model {
	t.Helper()
	cfg := flux2.TinyConfig()
	m, err := flux2.NewModel(testutil.Backend(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := (*flux2.Model).SetWeight
	if opts != nil {
		store = Store(*opts)
	}
	for i, name := range cfg.ParamNames() {
		shape := cfg.ParamShapes()[name]
		n := 1
		for _, d := range shape {
			n *= d
		}
		w := gaussian(n, uint64(100+i))
		for j := range w {
			w[j] *= 50 / float32(math.Sqrt(float64(shape[len(shape)-1])))
		}
		if err := store(m, name, tensors.FromFlatDataAndDimensions(w, shape...)); err != nil {
			t.Fatal(err)
		}
	}
	if miss := m.MissingWeights(); len(miss) > 0 {
		t.Fatalf("missing %v", miss)
	}
	return m
}

// TestQuantizedModelOutput runs the tiny model with each scheme and bounds
// the output error against the float model. The in-graph dequantization
// must equal the host dequantization, so the output error reflects the
// weight error only.
func TestQuantizedModelOutput(t *testing.T) {
	ref := tinyModel(t, nil)
	batch := tinyBatch(t, ref)
	want, err := ref.Forward(batch, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	wf := tensors.MustCopyFlatData[float32](want)
	for _, tc := range []struct {
		opts  Options
		bound float64
	}{
		{Options{Scheme: Int8}, 0.01},
		{Options{Scheme: FP8}, 0.03},
		{Options{Scheme: NF4}, 0.1},
		{Options{Scheme: NF4, DoubleQuant: true}, 0.1},
	} {
		m := tinyModel(t, &tc.opts)
		got, err := m.Forward(batch, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		e := testutil.RelL2(tensors.MustCopyFlatData[float32](got), wf)
		t.Logf("%s double=%v: output relative L2 error %.4f", tc.opts.Scheme, tc.opts.DoubleQuant, e)
		if e > tc.bound || e == 0 {
			t.Errorf("%s: output error %.4f not in (0, %.2f]", tc.opts.Scheme, e, tc.bound)
		}
	}
}

func tinyBatch(t *testing.T, m *flux2.Model) *flux2.Batch {
	t.Helper()
	c := m.Config
	x := gaussian(2*6*c.InChannels, 7)
	ctx := gaussian(2*5*c.ContextDim, 8)
	for i := range x {
		x[i] *= 50
	}
	for i := range ctx {
		ctx[i] *= 50
	}
	b, err := m.NewBatch(tensors.FromFlatDataAndDimensions(x, 2, 6, c.InChannels), tensors.FromFlatDataAndDimensions(ctx, 2, 5, c.ContextDim),
		tensors.FromFlatDataAndDimensions([]float32{0.3, 0.8}, 2), tensors.FromFlatDataAndDimensions([]float32{3.5, 1}, 2),
		flux2.TextIDs(2, 5), flux2.ImageIDs(2, 2, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGraphDequantMatchesHost checks the in-graph dequantizers against the
// host ones value for value, for every scheme, on a layer whose size is not
// a multiple of the NF4 block (exercising the gather path).
func TestGraphDequantMatchesHost(t *testing.T) {
	const rows, cols = 6, 22 // 132 values: 2 full NF4 blocks + 4
	w := gaussian(rows*cols, 3)
	for _, opts := range []Options{{Scheme: Int8}, {Scheme: FP8}, {Scheme: NF4}, {Scheme: NF4, DoubleQuant: true}} {
		m, err := flux2.NewModel(testutil.Backend(t), flux2.TinyConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := StoreQuantized(m, "layer.weight", w, rows, cols, opts); err != nil {
			t.Fatal(err)
		}
		var names []string
		var args []any
		for _, n := range m.VariableNames() {
			v, _ := m.Variable(n).Value()
			names = append(names, n)
			args = append(args, v)
		}
		out := MustExecOnce(testutil.Backend(t), func(in []*Node) *Node {
			nodes := map[string]*Node{}
			for i, n := range names {
				nodes[n] = in[i]
			}
			return flux2.WeightsFromMap(nodes, nil, DecodeWeight).Matrix("layer", dtypes.Float32)
		}, args...)
		got := tensors.MustCopyFlatData[float32](out)
		var want []float32
		switch opts.Scheme {
		case Int8:
			q, s := QuantizeInt8(w, rows, cols)
			want = DequantizeInt8(q, s, rows, cols)
		case FP8:
			c, s := QuantizeFP8(w, rows, cols)
			want = DequantizeFP8(c, s, rows, cols)
		case NF4:
			p, a, _ := QuantizeNF4(w)
			if opts.DoubleQuant {
				a = DequantizeAbsmax(QuantizeAbsmax(a))
			}
			want = DequantizeNF4(p, a, len(w))
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-7*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("%s double=%v: value %d graph %g host %g", opts.Scheme, opts.DoubleQuant, i, got[i], want[i])
			}
		}
	}
}
