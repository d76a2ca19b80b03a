package lora

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// TestFactorization pins Factorization to lycoris.functional.factorization
// (lycoris-lora 4.1.3), including FLUX.2's widths.
func TestFactorization(t *testing.T) {
	factors := []int{-1, 2, 4, 8, 16}
	for _, tc := range []struct {
		dim  int
		want [5][2]int // for factors -1, 2, 4, 8, 16
	}{
		{24, [5][2]int{{4, 6}, {2, 12}, {4, 6}, {3, 8}, {4, 6}}},
		{36, [5][2]int{{6, 6}, {2, 18}, {4, 9}, {6, 6}, {6, 6}}},
		{127, [5][2]int{{1, 127}, {1, 127}, {1, 127}, {1, 127}, {1, 127}}},
		{250, [5][2]int{{10, 25}, {2, 125}, {2, 125}, {5, 50}, {10, 25}}},
		{360, [5][2]int{{18, 20}, {2, 180}, {4, 90}, {8, 45}, {15, 24}}},
		{3072, [5][2]int{{48, 64}, {2, 1536}, {4, 768}, {8, 384}, {16, 192}}},
		{9216, [5][2]int{{96, 96}, {2, 4608}, {4, 2304}, {8, 1152}, {16, 576}}},
		{18432, [5][2]int{{128, 144}, {2, 9216}, {4, 4608}, {8, 2304}, {16, 1152}}},
		{96, [5][2]int{{8, 12}, {2, 48}, {4, 24}, {8, 12}, {6, 16}}},
	} {
		for i, f := range factors {
			if m, n := Factorization(tc.dim, f); m != tc.want[i][0] || n != tc.want[i][1] {
				t.Errorf("Factorization(%d, %d) = (%d, %d), want %v", tc.dim, f, m, n, tc.want[i])
			}
		}
	}
}

// relErr is ‖got−want‖/‖want‖.
func relErr(got, want []float32) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d / n)
}

// TestLoKrMatchesLycoris reads tools/reference/lokr_reference.py's fixture —
// LyCORIS' LokrModule on nn.Linear(24, 36), factors 4 and -1, whole and
// low-rank w2, its state dict keys as saved — through Flora's key parser and
// LoKr reader, and checks ΔW (DeltaRows), the adapted layer's forward output
// through Wrap (whole and in row chunks) and the inferred factor against
// lycoris' (relative error ≤ 1e-5).
func TestLoKrMatchesLycoris(t *testing.T) {
	f, err := weights.Open(filepath.Join("testdata", "lokr", "lokr_reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func(name string) ([]float32, []int) {
		v, d, err := readF32(f, name)
		if err != nil {
			t.Fatal(err)
		}
		return v, d
	}
	x, xd := read("x")
	w, _ := read("weight")
	bias, _ := read("bias")
	for _, tc := range []struct {
		name         string
		factor, rank int
		alpha        float64
		scale        float64
	}{
		{"f4_full", 4, 0, 8, 1},
		{"f4_lowrank", 4, 2, 3, 1.5},
		{"auto_full", -1, 0, 16, 1},
		{"auto_lowrank", -1, 2, 1, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := strings.Split(f.Metadata()[tc.name], ",")
			if len(meta) != 4 || meta[0] != strconv.Itoa(tc.factor) {
				t.Fatalf("fixture metadata %q does not describe factor %d", f.Metadata()[tc.name], tc.factor)
			}
			var stateDict []string // the LokrModule's saved keys, as one layer "<case>"
			for _, n := range f.Names() {
				if strings.HasPrefix(n, tc.name+".") && !strings.HasSuffix(n, ".delta") && !strings.HasSuffix(n, ".y") {
					stateDict = append(stateDict, n)
				}
			}
			keys, _, err := parseKeys(stateDict)
			if err != nil {
				t.Fatal(err)
			}
			pairs, _ := pairsByStem(keys)
			pair := pairs[tc.name]
			if pair == nil || pair.lokr == nil {
				t.Fatalf("keys %v not read as a LoKr layer %s", stateDict, tc.name)
			}
			names := map[string]string{"alpha": pair.alpha}
			for k, v := range pair.lokr {
				names[k] = v
			}
			p, err := readLoKr(f, tc.name, names)
			if err != nil {
				t.Fatal(err)
			}
			if p.Rank != tc.rank || p.Alpha != tc.alpha || p.Scale() != tc.scale || p.Rows != 36 || p.In != 24 {
				t.Fatalf("part rank %d alpha %g scale %g [%d, %d], want rank %d alpha %g scale %g [36, 24]",
					p.Rank, p.Alpha, p.Scale(), p.Rows, p.In, tc.rank, tc.alpha, tc.scale)
			}
			a := &Adapter{Layers: map[string][]*Part{"m": {p}}}
			if got, ok := a.LoKrFactor(); !ok || got != tc.factor {
				t.Errorf("LoKrFactor = %d, %v; want %d", got, ok, tc.factor)
			}
			delta, _ := read(tc.name + ".delta")
			if e := relErr(p.DeltaRows(1), delta); e > 1e-5 {
				t.Errorf("ΔW relative error %.3g > 1e-5", e)
			} else {
				t.Logf("ΔW relative error %.3g", e)
			}
			// ‖ΔW‖ from the factors.
			var n2 float64
			for _, v := range delta {
				n2 += float64(v) * float64(v)
			}
			if n := p.Norm(); math.Abs(n-math.Sqrt(n2)) > 1e-5*math.Sqrt(n2) {
				t.Errorf("Norm = %g, ‖ΔW‖ = %g", n, math.Sqrt(n2))
			}
			y, _ := read(tc.name + ".y")
			outs := MustExecOnceN(testutil.Backend(t), func(g *Graph) []*Node {
				mat := func(v []float32, d ...int) *Node { return Reshape(Const(g, v), d...) }
				nodes := map[string]*Node{"m.weight": mat(w, 36, 24)}
				l := p.LoKr
				nodes[varname.AdapterSlot("m", 0, varname.AdapterW1)] = mat(l.W1, l.OutA, l.InA)
				if p.Rank == 0 {
					nodes[varname.AdapterSlot("m", 0, varname.AdapterW2)] = mat(l.W2, l.OutB, l.InB)
				} else {
					nodes[varname.AdapterSlot("m", 0, varname.AdapterW2A)] = mat(l.W2A, l.OutB, p.Rank)
					nodes[varname.AdapterSlot("m", 0, varname.AdapterW2B)] = mat(l.W2B, p.Rank, l.InB)
				}
				nodes[varname.AdapterSlot("m", 0, varname.AdapterScale)] = Scalar(g, dtypes.Float32, p.Scale())
				ws := flux2.WeightsFromMap(nodes, Wrap(nil), nil)
				xn := mat(x, xd...)
				b := mat(bias, 1, 36)
				whole := Add(ws.Linear("m", xn), b)
				split := Add(Concatenate(ws.LinearSplit("m", xn, 12, 6, 18), -1), b)
				return []*Node{whole, split}
			})
			for i, o := range outs {
				got := o.Value().([][]float32)
				var flat []float32
				for _, r := range got {
					flat = append(flat, r...)
				}
				if e := relErr(flat, y); e > 1e-5 {
					t.Errorf("forward (%s) relative error %.3g > 1e-5", []string{"whole", "row chunks"}[i], e)
				} else {
					t.Logf("forward (%s) relative error %.3g", []string{"whole", "row chunks"}[i], e)
				}
			}
		})
	}
}

// tinyLoKr is a LoKr adapter on every layer of the tiny model with random
// factors (a fresh one has W2 = 0): whole or low-rank w2.
func tinyLoKr(t *testing.T, factor int, full bool, seed uint64) *Adapter {
	t.Helper()
	targets, err := Spec{Preset: PresetAll, Rank: 2, Alpha: 3}.Plan(flux2.TinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := NewLoKrAdapter(targets, LoKrOptions{Factor: factor, FullMatrix: full}, seed)
	i := 0
	for _, m := range a.Modules() {
		l := a.Layers[m][0].LoKr
		for _, v := range [][]float32{l.W2, l.W2B} {
			for j := range v {
				i++
				v[j] = float32(math.Sin(float64(i))) * 0.3
			}
		}
	}
	return a
}

// TestLoKrFreshAndShapes: a fresh LoKr adapter has ΔW = 0 and follows
// LyCORIS' rules — W1/W2 shapes from Factorization, w2 whole with
// full_matrix or when the rank is at least half its larger side, scale 1
// then (alpha = rank written), alpha/rank otherwise.
func TestLoKrFreshAndShapes(t *testing.T) {
	targets, err := Spec{Preset: PresetAll, Rank: 2, Alpha: 3}.Plan(flux2.TinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		factor int
		full   bool
	}{{4, true}, {4, false}, {-1, false}} {
		a := NewLoKrAdapter(targets, LoKrOptions{Factor: tc.factor, FullMatrix: tc.full}, 1)
		for _, tg := range targets {
			p := a.Layers[tg.Module][0]
			l := p.LoKr
			outA, outB := Factorization(tg.Out, tc.factor)
			inA, inB := Factorization(tg.In, tc.factor)
			if l.OutA != outA || l.OutB != outB || l.InA != inA || l.InB != inB {
				t.Fatalf("factor %d %s: w1 [%d,%d] w2 [%d,%d], want [%d,%d] [%d,%d]", tc.factor, tg.Module, l.OutA, l.InA, l.OutB, l.InB, outA, inA, outB, inB)
			}
			wantLow := !tc.full && 2*2 < max(outB, inB)
			if (p.Rank > 0) != wantLow || wantLow && p.Scale() != 1.5 || !wantLow && (p.Scale() != 1 || p.Alpha != 2) {
				t.Fatalf("factor %d full %v %s: rank %d alpha %g scale %g", tc.factor, tc.full, tg.Module, p.Rank, p.Alpha, p.Scale())
			}
			for _, v := range p.DeltaRows(1) {
				if v != 0 {
					t.Fatalf("%s: fresh ΔW is not zero", tg.Module)
				}
			}
		}
	}
}

// TestLoKrSaveLoadAttachMerge: a LoKr adapter written in the comfy and kohya
// namings loads back bit for bit with its LyCORIS key names; diffusers is
// refused; Attach/Extract is exact; running with it attached equals running
// with it merged (flora lora merge's path).
func TestLoKrSaveLoadAttachMerge(t *testing.T) {
	v, _ := flux2.VariantByName("embedded-tiny")
	for _, full := range []bool{true, false} {
		a := tinyLoKr(t, 4, full, 3)
		dir := t.TempDir()
		for _, tc := range []struct {
			format Format
			key    string
		}{
			{FormatComfy, "diffusion_model.double_blocks.0.img_attn.qkv.lokr_w1"},
			{FormatKohya, "lora_unet_double_blocks_0_img_attn_qkv.lokr_w1"},
		} {
			p := filepath.Join(dir, string(tc.format)+".safetensors")
			if err := Save(p, a, tc.format, Meta{Variant: v}); err != nil {
				t.Fatal(err)
			}
			f, err := weights.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			names, md := f.Names(), f.Metadata()
			f.Close()
			w2 := strings.TrimSuffix(tc.key, "w1") + "w2"
			if !full {
				w2 += "_a"
			}
			if !contains(names, tc.key) || !contains(names, w2) || !contains(names, strings.TrimSuffix(tc.key, "lokr_w1")+"alpha") {
				t.Errorf("%s: keys %v lack %s / %s / alpha", tc.format, names[:4], tc.key, w2)
			}
			if md["flora.adapter_type"] != "lokr" || md["flora.lokr_factor"] != "4" || md["ss_network_module"] != "lycoris.kohya" {
				t.Errorf("%s header: %v", tc.format, md)
			}
			got, format, _, err := Load(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Errorf("read back as %s", format)
			}
			sameLoKr(t, got, a)
		}
		if err := Save(filepath.Join(dir, "d.safetensors"), a, FormatDiffusers, Meta{Variant: v}); err == nil || !strings.Contains(err.Error(), "format comfy") {
			t.Errorf("diffusers LoKr export: %v", err)
		}
		if _, _, err := Resize(a, 1); err == nil {
			t.Error("Resize accepted a LoKr adapter")
		}

		m := tinyRandomModel(t, 2)
		if err := Attach(m, a, 1, true); err != nil {
			t.Fatal(err)
		}
		wantTrain := 2
		if !full {
			wantTrain = 3
		}
		if got := len(m.TrainableNames()); got != wantTrain*len(a.Layers) {
			t.Errorf("%d trainable variables, want %d", got, wantTrain*len(a.Layers))
		}
		back, err := Extract(m)
		if err != nil {
			t.Fatal(err)
		}
		sameLoKr(t, back, a)

		const strength = 0.7
		w, g, pl := attachedMergedPlain(t, a, strength)
		if d := maxAbsDiff(w, pl); d < 1e-3 {
			t.Fatalf("full=%v: adapter barely changes the output (%g)", full, d)
		}
		if d := maxAbsDiff(w, g); d > 1e-5 {
			t.Errorf("full=%v: merged output differs from unmerged by %g", full, d)
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// sameLoKr checks two LoKr adapters hold the same parts bit for bit.
func sameLoKr(t *testing.T, got, want *Adapter) {
	t.Helper()
	if len(got.Layers) != len(want.Layers) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(want.Layers))
	}
	for _, m := range want.Modules() {
		g, w := got.Layers[m][0], want.Layers[m][0]
		if g.LoKr == nil || g.Rank != w.Rank || g.Alpha != w.Alpha || g.In != w.In || g.Rows != w.Rows {
			t.Fatalf("%s: got %+v, want %+v", m, g, w)
		}
		gl, wl := g.LoKr, w.LoKr
		for i, pair := range [][2][]float32{{gl.W1, wl.W1}, {gl.W2, wl.W2}, {gl.W2A, wl.W2A}, {gl.W2B, wl.W2B}} {
			if len(pair[0]) != len(pair[1]) {
				t.Fatalf("%s factor %d: %d values, want %d", m, i, len(pair[0]), len(pair[1]))
			}
			for j := range pair[1] {
				if math.Float32bits(pair[0][j]) != math.Float32bits(pair[1][j]) {
					t.Fatalf("%s factor %d [%d] = %v, want %v", m, i, j, pair[0][j], pair[1][j])
				}
			}
		}
	}
}
