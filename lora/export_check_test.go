package lora

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/flux2/flux2test"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// The files Flora writes are checked by diffusers itself: lora/ writes them
// into exportCheckDir (FLORA_UPDATE_EXPORT_CHECK=1 go test ./lora -run
// TestFloraExportsVerifiedByDiffusers), then
// `tools/reference/flux2_lora.py check <dir>` loads each through diffusers'
// Flux2 LoRA loader and records, in diffusers_check.json, the file's SHA-256
// and the relative L2 distance between diffusers' output and Flora's
// (flora_out.safetensors). The test ties that evidence to the current
// writer: Flora must still write byte-identical files and outputs.
var exportCheckDir = filepath.Join("..", "testdata", "diffusers", "flux2-tiny-dev-lora", "flora-export")

// exportCase is one file written for the diffusers check.
type exportCase struct {
	name    string
	format  Format
	adapter *Adapter
	// noAlpha drops the .alpha tensors after saving (ai-toolkit's layout;
	// every part then has alpha = rank).
	noAlpha bool
	// diffusersLoads and diffusersMatches are what the check must show.
	diffusersLoads, diffusersMatches bool
}

// exportAdapter is a rank-3 adapter (alpha 5; single blocks rank 2, alpha 7)
// on every linear layer, the final adaLN included, with non-zero B; the img
// qkv of block 0 holds three parallel parts with independent A (one with
// another alpha) and the txt qkv of block 1 only a part on the k rows.
func exportAdapter(t *testing.T, cfg flux2.Config) *Adapter {
	t.Helper()
	a := randomAdapter(t, Spec{Preset: PresetAll, Rank: 3, Alpha: 5, Overrides: []Override{{Pattern: "single_blocks.*", Rank: 2, Alpha: 7}}}, cfg, 21, 22)
	d := cfg.Hidden
	split := NewAdapter([]Target{{Layer: Layer{Module: "x", In: d, Out: d}, Rank: 3, Alpha: 5}, {Layer: Layer{Module: "y", In: d, Out: d}, Rank: 3, Alpha: 9},
		{Layer: Layer{Module: "z", In: d, Out: d}, Rank: 3, Alpha: 5}}, 23)
	randomizeUp(split, 24)
	var parts []*Part
	for i, m := range []string{"x", "y", "z"} {
		p := split.Layers[m][0]
		p.RowOffset = i * d
		parts = append(parts, p)
	}
	a.Layers["double_blocks.0.img_attn.qkv"] = parts
	k := a.Layers["double_blocks.1.txt_attn.qkv"][0]
	a.Layers["double_blocks.1.txt_attn.qkv"] = []*Part{{Rank: 3, Alpha: 5, In: d, Rows: d, RowOffset: d, Down: k.Down, Up: k.Up[d*3 : 2*d*3]}}
	if err := a.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	return a
}

// subset keeps the modules keep accepts; unitScale rewrites every part to
// alpha = rank with the scale folded into B.
func subset(a *Adapter, keep func(string) bool, unitScale bool) *Adapter {
	out := &Adapter{Layers: map[string][]*Part{}, Metadata: map[string]string{}}
	for m, parts := range a.Layers {
		if !keep(m) {
			continue
		}
		for _, p := range parts {
			q := *p
			if unitScale {
				q.Up = make([]float32, len(p.Up))
				for i, v := range p.Up {
					q.Up[i] = v * float32(p.Scale())
				}
				q.Alpha = float64(q.Rank)
			}
			out.Layers[m] = append(out.Layers[m], &q)
		}
	}
	return out
}

// amplified multiplies every B by f (a stronger update).
func amplified(a *Adapter, f float32) *Adapter {
	for _, parts := range a.Layers {
		for _, p := range parts {
			for i := range p.Up {
				p.Up[i] *= f
			}
		}
	}
	return a
}

func exportCases(t *testing.T, cfg flux2.Config) []exportCase {
	a := exportAdapter(t, cfg)
	_, group := Layers(cfg)
	blocks := func(m string) bool { return group[m] != "global" }
	notFinal := func(m string) bool { return !strings.HasPrefix(m, "final_layer.adaLN") }
	onlyFinal := func(m string) bool { return strings.HasPrefix(m, "final_layer.adaLN") }
	return []exportCase{
		// What pipe.load_lora_weights reads: every layer, patterns, parts.
		{name: "flora_diffusers", format: FormatDiffusers, adapter: a, diffusersLoads: true, diffusersMatches: true},
		// kohya names through diffusers' kohya converter (block layers only:
		// it maps no modulation or final adaLN layers).
		{name: "flora_kohya", format: FormatKohya, adapter: subset(a, blocks, false), diffusersLoads: true, diffusersMatches: true},
		// ComfyUI names with alpha keys: diffusers' converter rejects the
		// .alpha tensors (ComfyUI reads them).
		{name: "flora_comfy", format: FormatComfy, adapter: a, diffusersLoads: false},
		// The same names without alpha (ai-toolkit's layout) load in diffusers.
		{name: "flora_comfy_noalpha", format: FormatComfy, adapter: subset(a, notFinal, true), noAlpha: true, diffusersLoads: true, diffusersMatches: true},
		// diffusers' converter maps final_layer.adaLN_modulation.1 to
		// norm_out.linear without swapping B's (shift, scale) row halves to
		// diffusers' (scale, shift), so it applies such a LoRA wrongly; Flora
		// swaps (flora_diffusers above carries this layer and matches).
		{name: "flora_comfy_final_layer", format: FormatComfy, adapter: amplified(subset(a, onlyFinal, true), 20), noAlpha: true, diffusersLoads: true, diffusersMatches: false},
	}
}

// writeExportCase writes a case's file to path.
func writeExportCase(t *testing.T, c exportCase, path string) {
	t.Helper()
	meta := Meta{Variant: flux2.Variant{Name: "diffusers-tiny", ArchTag: "flux2_tiny"}, Title: c.name, Trigger: "flr", Steps: 10}
	if err := Save(path, c.adapter, c.format, meta); err != nil {
		t.Fatal(err)
	}
	if !c.noAlpha {
		return
	}
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []weights.TensorData
	for _, n := range f.Names() {
		if strings.HasSuffix(n, ".alpha") {
			info, _ := f.Info(n)
			v, err := f.Bytes(n)
			if err != nil {
				t.Fatal(err)
			}
			vals, err := weights.DecodeFloat32(info, v)
			if err != nil || len(vals) != 1 {
				t.Fatalf("%s: %v", n, err)
			}
			down, _ := f.Dims(strings.TrimSuffix(n, ".alpha") + ".lora_A.weight")
			if len(down) != 2 || vals[0] != float32(down[0]) {
				t.Fatalf("%s = %g is not the rank of %v: cannot drop it", n, vals[0], down)
			}
			continue
		}
		tn, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		td, err := weights.FromTensor(n, tn)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, td)
	}
	md := f.Metadata()
	f.Close()
	if err := weights.WriteFile(path, ts, md); err != nil {
		t.Fatal(err)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// diffusersCheck is diffusers_check.json.
type diffusersCheck struct {
	Diffusers string `json:"diffusers"`
	// Paths name the diffusers loaders each file went through (see
	// tools/reference/flux2_lora.py LOADERS).
	Paths []string `json:"paths"`
	Cases map[string]struct {
		SHA256 string `json:"sha256"`
		// The top-level verdict is the "pipeline" path's
		// (pipe.load_lora_weights).
		diffusersPath
		// FloraVsBase says how much the adapter moves the output.
		FloraVsBase float64                  `json:"flora_vs_base_rel_l2"`
		ByPath      map[string]diffusersPath `json:"paths"`
	} `json:"cases"`
}

// diffusersPath is one diffusers loader's verdict on a file.
type diffusersPath struct {
	Loaded bool    `json:"loaded"`
	Error  string  `json:"error"`
	RelL2  float64 `json:"rel_l2"`
	// LoRAModules counts the modules the loader gave a LoRA (0 after
	// fuse_lora, which merges and unloads).
	LoRAModules int `json:"lora_modules"`
}

// TestFloraExportsVerifiedByDiffusers: the files diffusers verified are
// exactly what Flora writes now, Flora's outputs with them are unchanged,
// and diffusers' verdicts are the expected ones (see exportCases).
func TestFloraExportsVerifiedByDiffusers(t *testing.T) {
	modelDir := filepath.Join("..", "testdata", "diffusers", "flux2-tiny-dev")
	m := flux2test.Load(t, modelDir)
	batch := flux2test.IOBatch(t, m, filepath.Join(modelDir, "io.safetensors"))
	update := os.Getenv("FLORA_UPDATE_EXPORT_CHECK") != ""
	outs := map[string]*tensors.Tensor{}
	tmp := t.TempDir()
	cases := exportCases(t, m.Config)
	for _, c := range cases {
		path := filepath.Join(tmp, c.name+".safetensors")
		writeExportCase(t, c, path)
		// Flora's output with the adapter, read back from its own file.
		b, _, _, err := Load(path, &m.Config)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := Attach(m, b, 1, false); err != nil {
			t.Fatal(err)
		}
		out, err := m.Forward(batch, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		if err := Detach(m); err != nil {
			t.Fatal(err)
		}
		outs[c.name] = out
		committed := filepath.Join(exportCheckDir, c.name+".safetensors")
		if update {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(exportCheckDir, 0o755); err != nil {
				t.Fatal(err)
			}
			testutil.WriteFile(t, committed, data)
			continue
		}
		if got, want := fileSHA256(t, path), fileSHA256(t, committed); got != want {
			t.Errorf("%s: Flora now writes a different file than the one diffusers verified (sha256 %s, committed %s); regenerate with FLORA_UPDATE_EXPORT_CHECK=1 and rerun tools/reference/flux2_lora.py check", c.name, got, want)
		}
	}
	outPath := filepath.Join(exportCheckDir, "flora_out.safetensors")
	if update {
		var ts []weights.TensorData
		for _, c := range cases {
			td, err := weights.FromTensor(c.name, outs[c.name])
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, td)
		}
		if err := weights.WriteFile(outPath, ts, map[string]string{"generator": "lora/export_check_test.go"}); err != nil {
			t.Fatal(err)
		}
		t.Skipf("wrote %s; now run: /tmp/refenv/bin/python tools/reference/flux2_lora.py check %s", exportCheckDir, filepath.Join("testdata", "diffusers", "flux2-tiny-dev-lora", "flora-export"))
	}
	committedOuts := weightstest.ReadAllF32(t, outPath)
	raw, err := os.ReadFile(filepath.Join(exportCheckDir, "diffusers_check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var check diffusersCheck
	if err := json.Unmarshal(raw, &check); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		got, want := tensors.MustCopyFlatData[float32](outs[c.name]), tensors.MustCopyFlatData[float32](committedOuts[c.name])
		if e := testutil.RelL2(got, want); e > 1e-6 {
			t.Errorf("%s: Flora's output moved by %.3g from the one diffusers was compared with", c.name, e)
		}
		res, ok := check.Cases[c.name]
		if !ok {
			t.Errorf("%s: not in diffusers_check.json", c.name)
			continue
		}
		if res.SHA256 != fileSHA256(t, filepath.Join(exportCheckDir, c.name+".safetensors")) {
			t.Errorf("%s: diffusers_check.json was made from another file", c.name)
		}
		if res.Loaded != c.diffusersLoads {
			t.Errorf("%s: diffusers %s loaded it: %v (%s), want %v", c.name, check.Diffusers, res.Loaded, res.Error, c.diffusersLoads)
		}
		if !res.Loaded {
			continue
		}
		if res.FloraVsBase < 1e-2 {
			t.Errorf("%s: the adapter moves the output by only %.3g: the check is not meaningful", c.name, res.FloraVsBase)
		}
		t.Logf("%s: diffusers %s output vs Flora's: relative L2 %.3g", c.name, check.Diffusers, res.RelL2)
		if matches := res.RelL2 <= 1e-4; matches != c.diffusersMatches {
			t.Errorf("%s: diffusers output relative L2 %.3g from Flora's; want match %v", c.name, res.RelL2, c.diffusersMatches)
		}
		if c.format != FormatDiffusers {
			continue
		}
		// A diffusers-format file applies the same weights whichever way
		// diffusers loads it, with or without reading its PEFT config
		// (Flora folds alpha/rank into B).
		if len(check.Paths) < 4 {
			t.Errorf("diffusers_check.json covers the loaders %v; want all four of tools/reference/flux2_lora.py", check.Paths)
		}
		for _, path := range check.Paths {
			r := res.ByPath[path]
			t.Logf("%s via %s: relative L2 %.3g (%d LoRA modules)", c.name, path, r.RelL2, r.LoRAModules)
			if !r.Loaded || r.RelL2 > 1e-4 || path != "fused" && r.LoRAModules == 0 {
				t.Errorf("%s via diffusers' %s: loaded %v (%s), %d LoRA modules, relative L2 %.3g from Flora's; want a match",
					c.name, path, r.Loaded, r.Error, r.LoRAModules, r.RelL2)
			}
		}
	}
}

// comfyUICheck is comfyui_check.json, written by
// tools/reference/comfyui_check.py (run by hand with a ComfyUI source
// folder): ComfyUI's own loader, comfy.sd.load_lora_for_models, applied an
// adapter trained on embedded:tiny (every layer, alpha != rank, per-layer
// ranks) from each file Flora exports, and its patched weights were compared
// with `flora lora merge`.
type comfyUICheck struct {
	ComfyUI       string `json:"comfyui"`
	ComfyUICommit string `json:"comfyui_commit"`
	Torch         string `json:"torch"`
	Flora         string `json:"flora"`
	Adapter       struct {
		Modules map[string]struct {
			Rank  int     `json:"rank"`
			Alpha float64 `json:"alpha"`
		} `json:"modules"`
	} `json:"adapter"`
	Formats map[string]struct {
		ModulesApplied   int      `json:"modules_applied"`
		ModulesNotLoaded []string `json:"modules_not_loaded"`
		// KeysNotLoaded are the file's keys ComfyUI logged as "lora key not
		// loaded"; PatchesNotApplied its "NOT LOADED" ones.
		KeysNotLoaded     []string           `json:"keys_not_loaded"`
		PatchesNotApplied []string           `json:"patches_not_applied"`
		MaxRel            *float64           `json:"max_rel_update_applied"`
		MinUpdateVsBase   float64            `json:"min_update_vs_base"`
		OtherChanged      []string           `json:"other_weights_changed"`
		RelUpdate         map[string]float64 `json:"rel_update"`
	} `json:"formats"`
}

// TestComfyUILoadsFloraExports: in ComfyUI's own loader, every module it
// applies from each Flora export matches Flora's merge (relative error of
// the update ≤ 1e-5), it changes no other weight, and the modules it leaves
// out are exactly those Compatibility predicts for ComfyUI.
func TestComfyUILoadsFloraExports(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(exportCheckDir, "comfyui_check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var check comfyUICheck
	if err := json.Unmarshal(raw, &check); err != nil {
		t.Fatal(err)
	}
	if check.ComfyUI == "" || len(check.ComfyUICommit) != 40 || check.Torch == "" || check.Flora == "" {
		t.Errorf("versions not recorded: ComfyUI %q (commit %q), torch %q, Flora %q", check.ComfyUI, check.ComfyUICommit, check.Torch, check.Flora)
	}
	// The adapter covered every layer of the tiny model, with alpha != rank
	// and more than one rank.
	targets, err := Spec{Preset: PresetAll, Rank: 2}.Plan(flux2.TinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := NewAdapter(targets, 1)
	ranks := map[int]bool{}
	alphaNotRank := false
	for _, m := range a.Modules() {
		s, ok := check.Adapter.Modules[m]
		if !ok {
			t.Errorf("%s: not in the checked adapter", m)
		}
		ranks[s.Rank] = true
		alphaNotRank = alphaNotRank || s.Alpha != float64(s.Rank)
	}
	if len(check.Adapter.Modules) != len(a.Layers) || len(ranks) < 2 || !alphaNotRank {
		t.Errorf("checked adapter: %d modules (want %d), ranks %v, some alpha != rank: %v", len(check.Adapter.Modules), len(a.Layers), ranks, alphaNotRank)
	}
	for _, f := range []Format{FormatComfy, FormatKohya, FormatDiffusers} {
		res, ok := check.Formats[string(f)]
		if !ok {
			t.Errorf("%s: not in comfyui_check.json", f)
			continue
		}
		var s Support
		for _, c := range Compatibility(a, f) {
			if c.Client == ClientComfyUI {
				s = c
			}
		}
		got, want := slices.Sorted(slices.Values(res.ModulesNotLoaded)), slices.Sorted(slices.Values(s.Dropped))
		if !s.Checked || !s.Loads || !slices.Equal(got, want) {
			t.Errorf("%s file: ComfyUI %s left out %v; Compatibility says checked %v, loads %v, drops %v", f, check.ComfyUI, got, s.Checked, s.Loads, want)
		}
		if res.ModulesApplied != len(a.Layers)-len(res.ModulesNotLoaded) || len(res.RelUpdate) != res.ModulesApplied {
			t.Errorf("%s file: %d modules applied, %d compared, %d left out, of %d", f, res.ModulesApplied, len(res.RelUpdate), len(res.ModulesNotLoaded), len(a.Layers))
		}
		if (len(res.KeysNotLoaded) == 0) != (len(res.ModulesNotLoaded) == 0) || len(res.PatchesNotApplied) > 0 || len(res.OtherChanged) > 0 {
			t.Errorf("%s file: ComfyUI did not load keys %v, did not apply %v, changed other weights %v", f, res.KeysNotLoaded, res.PatchesNotApplied, res.OtherChanged)
		}
		if res.MinUpdateVsBase < 1e-2 {
			t.Errorf("%s file: the adapter moves a weight by only %.3g: the check is not meaningful", f, res.MinUpdateVsBase)
		}
		if res.MaxRel == nil || *res.MaxRel > 1e-5 {
			t.Errorf("%s file: ComfyUI's update vs Flora's merge: max relative error %v, want ≤ 1e-5", f, res.MaxRel)
		}
		for m, e := range res.RelUpdate {
			if e > 1e-5 {
				t.Errorf("%s file, %s: ComfyUI's update is %.3g from Flora's merge", f, m, e)
			}
		}
		if res.MaxRel != nil {
			t.Logf("%s file in ComfyUI %s: %d of %d modules applied, max relative error %.3g", f, check.ComfyUI, res.ModulesApplied, len(a.Layers), *res.MaxRel)
		}
	}
}
