package lora

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flora-ml/flora/internal/tensorrand"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
)

func tinyRandomModel(t *testing.T, seed uint64) *flux2.Model {
	t.Helper()
	m, err := flux2.NewRandomModel(testutil.Backend(t), flux2.TinyConfig(), seed, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tinyBatch(t *testing.T, m *flux2.Model) *flux2.Batch {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	rnd := func(dims ...int) *tensors.Tensor { return tensorrand.Normal(rng, dims...) }
	c := m.Config
	b, err := m.NewBatch(rnd(2, 6, c.InChannels), rnd(2, 5, c.ContextDim),
		tensors.FromFlatDataAndDimensions([]float32{0.3, 0.8}, 2), tensors.FromFlatDataAndDimensions([]float32{3.5, 1}, 2),
		flux2.TextIDs(2, 5), flux2.ImageIDs(2, 2, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flat(t *testing.T, x *tensors.Tensor) []float32 {
	t.Helper()
	v, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// randomizeUp gives every part a non-zero B so the adapter changes the
// output; the values depend only on the seed (modules in order).
// randomAdapter plans spec on cfg and returns a new adapter (down factors
// from seed) whose up factors are random too (from upSeed), so that its
// update is not zero.
func randomAdapter(t *testing.T, spec Spec, cfg flux2.Config, seed, upSeed uint64) *Adapter {
	t.Helper()
	targets, err := spec.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdapter(targets, seed)
	randomizeUp(a, upSeed)
	return a
}

func randomizeUp(a *Adapter, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, m := range a.Modules() {
		for _, p := range a.Layers[m] {
			for i := range p.Up {
				p.Up[i] = float32(rng.NormFloat64() * 0.05)
			}
		}
	}
}

func TestPlanPresets(t *testing.T) {
	cfg := flux2.TinyConfig() // 2 double + 2 single blocks, guidance embedder
	tests := []struct {
		spec Spec
		want int
	}{
		{Spec{Preset: PresetBlocks, Rank: 4}, 2*8 + 2*2},
		{Spec{Preset: PresetAttentionMLP, Rank: 4}, 2*8 + 2*2},
		{Spec{Preset: PresetAttention, Rank: 4}, 2*4 + 2*2},
		{Spec{Preset: PresetAll, Rank: 4}, 2*8 + 2*2 + 11},
		{Spec{Preset: PresetBlocks, Rank: 4, Include: []string{"single_blocks.*"}}, 4},
		{Spec{Preset: PresetBlocks, Rank: 4, Exclude: []string{"*.txt_*"}}, 2*4 + 2*2},
	}
	for _, tc := range tests {
		got, err := tc.spec.Plan(cfg)
		if err != nil {
			t.Fatalf("%+v: %v", tc.spec, err)
		}
		if len(got) != tc.want {
			t.Errorf("%+v: %d targets, want %d", tc.spec, len(got), tc.want)
		}
	}
	over, err := Spec{Preset: PresetBlocks, Rank: 4, Overrides: []Override{{Pattern: "single_blocks.*", Rank: 8}}}.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range over {
		wantRank, wantAlpha := 4, 4.0
		if tg.Module[:6] == "single" {
			wantRank, wantAlpha = 8, 8
		}
		if tg.Rank != wantRank || tg.Alpha != wantAlpha {
			t.Errorf("%s: rank %d alpha %g, want %d %g", tg.Module, tg.Rank, tg.Alpha, wantRank, wantAlpha)
		}
	}
	for _, bad := range []Spec{{Preset: "everything", Rank: 4}, {Preset: PresetBlocks, Rank: 0}, {Preset: PresetBlocks, Rank: 4, Include: []string{"nothing"}}, {Preset: PresetBlocks, Rank: 4, Include: []string{"[bad"}}} {
		if _, err := bad.Plan(cfg); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestFreshAdapterIsIdentity: B = 0, so attaching changes nothing.
func TestFreshAdapterIsIdentity(t *testing.T) {
	m := tinyRandomModel(t, 1)
	b := tinyBatch(t, m)
	before, err := m.Forward(b, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := Spec{Preset: PresetAll, Rank: 4}.Plan(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(m, NewAdapter(targets, 7), 1, true); err != nil {
		t.Fatal(err)
	}
	after, err := m.Forward(b, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(flat(t, before), flat(t, after)); d != 0 {
		t.Errorf("fresh adapter changed the output by %g", d)
	}
	if got := len(m.TrainableNames()); got != 2*len(targets) {
		t.Errorf("%d trainable variables, want %d (down+up per target)", got, 2*len(targets))
	}
}

// TestMergeEqualsUnmerged: running with an attached adapter at strength s
// equals running with the adapter merged into the weights.
func TestMergeEqualsUnmerged(t *testing.T) {
	a := randomAdapter(t, Spec{Preset: PresetAll, Rank: 3, Alpha: 6}, flux2.TinyConfig(), 9, 4)
	// One layer gets two parallel parts on row slices (as imported from a
	// split layout with different A per part).
	qkv := a.Layers["double_blocks.0.img_attn.qkv"][0]
	a.Layers["double_blocks.0.img_attn.qkv"] = []*Part{
		{Rank: 3, Alpha: 6, In: 96, Rows: 96, RowOffset: 96, Down: qkv.Down, Up: qkv.Up[96*3 : 192*3]},
		{Rank: 3, Alpha: 3, In: 96, Rows: 96, RowOffset: 192, Down: qkv.Down, Up: qkv.Up[:96*3]},
	}
	const strength = 0.7

	w, g, p := attachedMergedPlain(t, a, strength)
	if d := maxAbsDiff(w, p); d < 1e-3 {
		t.Fatalf("adapter barely changes the output (%g); test is not meaningful", d)
	}
	if d := maxAbsDiff(w, g); d > 1e-5 {
		t.Errorf("merged output differs from unmerged by %g", d)
	}
}

// attachedMergedPlain runs the tiny model's forward on one batch with a
// attached at strength (want), merged into the weights at strength (got)
// and without it (plain).
func attachedMergedPlain(t *testing.T, a *Adapter, strength float64) (want, got, plain []float32) {
	t.Helper()
	unmerged := tinyRandomModel(t, 2)
	if err := Attach(unmerged, a, strength, false); err != nil {
		t.Fatal(err)
	}
	b := tinyBatch(t, unmerged)
	forward := func(m *flux2.Model) []float32 {
		out, err := m.Forward(b, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		return flat(t, out)
	}
	merged := tinyRandomModel(t, 2)
	if err := Merge(merged, a, strength); err != nil {
		t.Fatal(err)
	}
	return forward(unmerged), forward(merged), forward(tinyRandomModel(t, 2))
}
