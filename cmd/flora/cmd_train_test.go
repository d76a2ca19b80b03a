package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/flora-ml/flora/eval"
	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/train"
)

// TestTrainEmbeddedDemo runs the README's main job — the embedded demo —
// into a temporary folder and checks its outputs: adapters in both formats,
// previews, metrics whose last-10% mean loss is below the first-10% mean,
// the loss curve, checkpoints and run.json. Then it resumes the finished run
// (nothing left to do) to check --resume auto.
func TestTrainEmbeddedDemo(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir="+out,
		"--set", "dataset.cache_dir="+filepath.Join(out, "cache"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"tiny-demo.safetensors", "tiny-demo.diffusers.safetensors", "metrics.jsonl", "loss.png", "run.json",
		"previews/step-000050.png", "previews/step-000150.png", "checkpoints/step-000150/state.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing output %s", f)
		}
	}
	recs, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil || len(recs) != 150 {
		t.Fatalf("%d metrics records, err %v", len(recs), err)
	}
	run, err := eval.LoadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean loss first 10%% %.4f, last 10%% %.4f", run.MeanFirst10, run.MeanLast10)
	if run.MeanLast10 >= run.MeanFirst10*0.75 {
		t.Errorf("loss did not clearly fall: first 10%% %.4f, last 10%% %.4f", run.MeanFirst10, run.MeanLast10)
	}
	a, format, _, err := lora.Load(filepath.Join(out, "tiny-demo.safetensors"), nil)
	if err != nil || format != lora.FormatComfy || a.Metadata["flora.base_variant"] != "embedded-nano" {
		t.Errorf("adapter: %v %s %v", err, format, a.Metadata["flora.base_variant"])
	}
	// flora eval: the run in a comparison table, and the adapter's fixed-noise
	// validation loss below the base model's.
	code, stdout, stderr = runCLI(t, "eval", "compare", out, "--plot", filepath.Join(out, "curves.png"))
	if code != 0 || !strings.Contains(stdout, "tiny-demo") {
		t.Errorf("eval compare: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "eval", "loss", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir="+out,
		"--set", "dataset.cache_dir="+filepath.Join(out, "cache"), "--adapter", filepath.Join(out, "tiny-demo.safetensors"))
	if code != 0 {
		t.Fatalf("eval loss: exit %d\n%s", code, stderr)
	}
	var base, adapted float64
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.FieldsFunc(line, func(r rune) bool { return r == '│' || r == '|' })
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSpace(f[0])
		var v float64
		if _, err := fmt.Sscan(strings.TrimSpace(f[1]), &v); err != nil {
			continue
		}
		if name == "base" {
			base = v
		} else if strings.HasSuffix(name, "tiny-demo.safetensors") {
			adapted = v
		}
	}
	if base == 0 || adapted == 0 || adapted >= base {
		t.Errorf("validation loss base %g adapted %g\n%s", base, adapted, stdout)
	}
	checkDemoLearnedStyle(t, out)
	// The second run finds the cache and the finished checkpoint.
	code, _, stderr = runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir="+out,
		"--set", "dataset.cache_dir="+filepath.Join(out, "cache"), "--resume", "auto")
	if code != 0 || !strings.Contains(stderr, "24 reused") || !strings.Contains(stderr, "resumed from") {
		t.Errorf("resume: exit %d\n%s", code, stderr)
	}
}

// TestTrainRefusesBadJobs: invalid configs and missing inputs are refused
// before any heavy work, naming the key.
func TestTrainRefusesBadJobs(t *testing.T) {
	code, _, stderr := runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "train.lr=-1", "--set", "output.dir="+t.TempDir())
	if code != 1 || !strings.Contains(stderr, "train.lr: must be a number in (0, 1], got -1") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "dataset.folders.0.path=/nonexistent", "--set", "output.dir="+t.TempDir())
	if code != 1 || !strings.Contains(stderr, "dataset.folders.0.path") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	code, stdout, _ := runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--print-config")
	if code != 0 || !strings.Contains(stdout, "embedded:nano") {
		t.Errorf("--print-config: exit %d\n%s", code, stdout)
	}
	// A dry run exits like the real run would: 1 when the job does not fit.
	code, stdout, stderr = runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--dry-run", "--memory-budget", "0.001", "--set", "output.dir="+t.TempDir())
	if code != 1 || !strings.Contains(stdout, "estimated device memory") || !strings.Contains(stdout, "does not fit") ||
		!strings.Contains(stderr, "the job does not fit the device budget") {
		t.Errorf("--dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	// The grid of other resolutions and schemes: the job's own 64² row
	// among the usual ones, one column per scheme, nothing fits 0.001 GiB.
	testutil.CheckContains(t, "--dry-run grid", stdout, "| resolution | none | int8 | fp8 | nf4 |", "\n| 64² |", "\n| 512² |", "\n| 1024² |")
	if strings.Contains(stdout, "GiB ✓") {
		t.Errorf("--dry-run grid marks a fit under 0.001 GiB:\n%s", stdout)
	}
}

// TestDataCache: flora data cache builds a job's caches and reuses them.
func TestDataCache(t *testing.T) {
	out := t.TempDir()
	args := []string{"data", "cache", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir=" + out}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 || !strings.Contains(stdout, "24 built") {
		t.Fatalf("first run: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, args...)
	if code != 0 || !strings.Contains(stdout, "24 reused, 0 built") || !strings.Contains(stdout, "25 reused, 0 built") {
		t.Errorf("second run:\n%s", stdout)
	}
	// A quantized text encoder computes other embeddings: the caption
	// cache is rebuilt (24 captions + the empty one), the latents reused.
	code, stdout, stderr = runCLI(t, append(args, "--set", "model.text_encoder_quantize=int8")...)
	if code != 0 || !strings.Contains(stdout, "24 reused, 0 built") || !strings.Contains(stdout, "0 reused, 25 built") {
		t.Errorf("int8 text encoder run: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, append(args, "--set", "model.text_encoder_quantize=int3")...); code == 0 || !strings.Contains(stderr, "model.text_encoder_quantize") {
		t.Errorf("bad text_encoder_quantize accepted: exit %d %s", code, stderr)
	}
}

// TestPresetsFitTheirGPU: every preset in configs/ fits the 24 GB GPU its
// comment promises, by Flora's own memory plan (training and caption
// caching), so `flora train` never refuses a preset on such a card.
//
// Each preset is planned against a header-only (sparse) checkpoint of its
// variant's shapes: the plan checks the checkpoint's architecture against
// the variant the preset names, as a real run does.
func TestPresetsFitTheirGPU(t *testing.T) {
	presets, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(presets) == 0 {
		t.Fatalf("no presets: %v", err)
	}
	data, err := filepath.Abs("../../examples/tiny/data")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range presets {
		cfg, err := job.Load(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := flux2.VariantByName(cfg.Model.Variant)
		if err != nil {
			t.Fatalf("%s: the preset names no published variant: %v", p, err)
		}
		model := sparseCheckpoint(t, v)
		code, stdout, stderr := runCLI(t, "train", "--config", p, "--dry-run", "--memory-budget", "24", "--backend", "go",
			"--set", "dataset.folders.0.path="+data, "--set", "model.path="+model)
		if code != 0 || !strings.Contains(stdout, "training fits") || !strings.Contains(stdout, "caption caching fits") {
			t.Errorf("%s on 24 GiB: exit %d\n%s%s", filepath.Base(p), code, stdout, stderr)
		}
	}
}

// TestTrainInitFromUnfusedLoRA: adapter.init_from with a diffusers LoRA
// whose to_q/to_k/to_v have their own A (three parts on one fused layer):
// Load's warning about them reaches the user, and the trained adapter
// written back in diffusers names has every part, each trained.
func TestTrainInitFromUnfusedLoRA(t *testing.T) {
	variant := bundle.EmbeddedTinyVariant()
	targets, err := lora.Spec{Preset: lora.PresetBlocks, Rank: 2}.Plan(variant.Config)
	if err != nil {
		t.Fatal(err)
	}
	init := lora.NewAdapter(targets, 5)
	const qkv = "double_blocks.0.img_attn.qkv"
	p := init.Layers[qkv][0]
	rows := p.Rows / 3
	init.Layers[qkv] = nil
	for i := 0; i < 3; i++ {
		down := append([]float32(nil), p.Down...)
		down[i] += 0.01 // own A per part: kept as parallel parts
		up := make([]float32, rows*p.Rank)
		for j := range up {
			up[j] = 0.01 * float32(j%7-3) // B ≠ 0, so A trains too
		}
		init.Layers[qkv] = append(init.Layers[qkv], &lora.Part{Rank: p.Rank, Alpha: p.Alpha, In: p.In, Rows: rows, RowOffset: i * rows, Down: down, Up: up})
	}
	dir := t.TempDir()
	initPath := filepath.Join(dir, "init.safetensors")
	if err := lora.Save(initPath, init, lora.FormatDiffusers, lora.Meta{Variant: variant}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	code, stdout, stderr := runCLI(t, "train", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir="+out,
		"--set", "dataset.cache_dir="+filepath.Join(dir, "cache"), "--set", "adapter.init_from="+initPath,
		"--set", "train.steps=2", "--set", "train.warmup_steps=0", "--set", "sample.every=0", "--set", "output.formats=[diffusers]")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if want := "warning: adapter.init_from " + initPath + ": " + qkv + ": its 3 split parts"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	a, format, _, err := lora.Load(filepath.Join(out, "tiny-demo.diffusers.safetensors"), &variant.Config)
	if err != nil || format != lora.FormatDiffusers {
		t.Fatalf("trained adapter: %v (%s)", err, format)
	}
	if a.NumParams() != init.NumParams() || len(a.Layers) != len(init.Layers) {
		t.Errorf("trained adapter has %d parameters in %d layers, init_from %d in %d", a.NumParams(), len(a.Layers), init.NumParams(), len(init.Layers))
	}
	parts := a.Layers[qkv]
	if len(parts) != 3 {
		t.Fatalf("%s: %d parts in the trained adapter, want 3", qkv, len(parts))
	}
	for i, got := range parts {
		want := init.Layers[qkv][i]
		if got.RowOffset != want.RowOffset || got.Rows != want.Rows || slices.Equal(got.Up, want.Up) || slices.Equal(got.Down, want.Down) {
			t.Errorf("%s part %d: rows [%d,+%d) (want [%d,+%d)), up trained %v, down trained %v", qkv, i, got.RowOffset, got.Rows,
				want.RowOffset, want.Rows, !slices.Equal(got.Up, want.Up), !slices.Equal(got.Down, want.Down))
		}
	}
}

// TestDryRunGPUMemory: `--dry-run --gpu-memory 16GiB` on the dev preset
// plans for a 16 GiB card: the job's automatic offload and block swap make
// it fit, the plan says what moves, and a size it cannot read is a usage
// error naming the flag.
func TestDryRunGPUMemory(t *testing.T) {
	data, err := filepath.Abs("../../examples/tiny/data")
	if err != nil {
		t.Fatal(err)
	}
	v, err := flux2.VariantByName("dev")
	if err != nil {
		t.Fatal(err)
	}
	model := sparseCheckpoint(t, v)
	args := func(size string) []string {
		return []string{"train", "--config", "../../configs/flux2-dev-style-r16.yaml", "--dry-run", "--gpu-memory", size, "--backend", "go",
			"--set", "dataset.folders.0.path=" + data, "--set", "model.path=" + model}
	}
	code, stdout, stderr := runCLI(t, args("16GiB")...)
	if code != 0 || !strings.Contains(stdout, "device budget: 16.0 GiB — training fits") || !strings.Contains(stdout, "block swap: ") ||
		!strings.Contains(stdout, "(the others in host memory)") || !strings.Contains(stdout, "(offload, swap ") {
		t.Errorf("dev on 16 GiB: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, args("16XB")...)
	if code != 2 || !strings.Contains(stderr, `"16XB" is not a number`) || !strings.Contains(stderr, "--gpu-memory") {
		t.Errorf("--gpu-memory 16XB: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestTrainHostMemorySettings: train.offload_activations and
// model.blocks_on_host reach the training step (the run log says what moves
// to host memory), and a block count the model does not have is refused
// before any work, naming the key.
func TestTrainHostMemorySettings(t *testing.T) {
	dir := t.TempDir()
	args := func(blocks string) []string {
		return []string{"train", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir=" + filepath.Join(dir, "run-"+blocks),
			"--set", "dataset.cache_dir=" + filepath.Join(dir, "cache"), "--set", "train.steps=2", "--set", "train.warmup_steps=0",
			"--set", "sample.every=0", "--set", "train.offload_activations=on", "--set", "model.blocks_on_host=" + blocks}
	}
	code, stdout, stderr := runCLI(t, args("2")...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if want := "saved activations offloaded to host memory, 2 blocks streamed from host memory (block swap)"; !strings.Contains(stdout+stderr, want) {
		t.Errorf("the run log lacks %q:\n%s%s", want, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, args("99")...)
	if code == 0 || !strings.Contains(stderr, "model.blocks_on_host") || !strings.Contains(stderr, "number of blocks from 0 to the model's") {
		t.Errorf("99 blocks on host: exit %d\n%s%s", code, stdout, stderr)
	}
}

// sparseCheckpoint writes a bf16 safetensors file with a variant's official
// tensor names and shapes whose data is a hole (a sparse file: no disk
// space), for commands that read only headers. It is named after the
// variant as Black Forest Labs name their files.
func sparseCheckpoint(t *testing.T, v flux2.Variant) string {
	t.Helper()
	shapes := v.Config.ParamShapes()
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var offset int64
	for _, n := range names {
		size := int64(2)
		for _, d := range shapes[n] {
			size *= int64(d)
		}
		header[n] = map[string]any{"dtype": "BF16", "shape": shapes[n], "data_offsets": []int64{offset, offset + size}}
		offset += size
	}
	raw, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flux-2-"+v.Name+".safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(raw)))
	if _, err := f.Write(append(n[:], raw...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 + int64(len(raw)) + offset); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkDemoLearnedStyle is the end-to-end learning check of the demo run in
// out: `flora eval run` samples the held-out prompts (shape/colour pairs not
// in the training images) with the adapter and without it; the adapter's
// samples score close to the dataset's style score and far above the base
// model's, whose samples stay where plain shapes score (the base does not
// drift toward the style), and the adapter's validation loss on the
// held-out images is below the base's.
func checkDemoLearnedStyle(t *testing.T, out string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, "eval", "run", "--config", "../../examples/tiny/train.yaml", "--set", "output.dir="+out,
		"--set", "dataset.cache_dir="+filepath.Join(out, "cache"))
	if code != 0 {
		t.Fatalf("eval run: exit %d\n%s%s", code, stdout, stderr)
	}
	ev, err := eval.ReadRunEval(out)
	if err != nil {
		t.Fatal(err)
	}
	files, err := eval.StyleFiles([]string{"../../examples/tiny/data"})
	if err != nil {
		t.Fatal(err)
	}
	styles := make([]eval.Style, len(files))
	for i, f := range files {
		styles[i] = f.Style
	}
	data := eval.SummariseStyles(styles).Mean
	t.Logf("style score: dataset %.3f, adapter %.3f ± %.3f, base %.3f ± %.3f; held-out validation loss adapter %.4f, base %.4f",
		data, ev.StyleScore, ev.StyleStd, ev.BaseStyleScore, ev.BaseStyleStd, ev.ValidationLoss, ev.BaseValidationLoss)
	if len(ev.BaseSamples) != len(ev.Prompts) || len(ev.Prompts) != 8 {
		t.Fatalf("%d prompts, %d base samples; want the 8 held-out prompts sampled both ways", len(ev.Prompts), len(ev.BaseSamples))
	}
	if ev.StyleScore-ev.BaseStyleScore < demoStyleGain {
		t.Errorf("the adapter moved the style score by %.3f (%.3f → %.3f), want at least %.2f", ev.StyleScore-ev.BaseStyleScore,
			ev.BaseStyleScore, ev.StyleScore, demoStyleGain)
	}
	if math.Abs(data-ev.StyleScore) >= math.Abs(data-ev.BaseStyleScore) {
		t.Errorf("adapter style %.3f is not closer to the dataset's %.3f than the base's %.3f", ev.StyleScore, data, ev.BaseStyleScore)
	}
	if ev.BaseStyleScore > plainShapeStyle {
		t.Errorf("the base model's samples score %.3f, above plain shapes' %.2f: the base itself drew the style", ev.BaseStyleScore, plainShapeStyle)
	}
	if ev.ValidationLoss >= ev.BaseValidationLoss {
		t.Errorf("held-out validation loss: adapter %.4f, base %.4f", ev.ValidationLoss, ev.BaseValidationLoss)
	}
}

// Bounds of the end-to-end check: the smallest gain in style score the
// demo's adapter must make on held-out prompts, and the highest score of
// the plain-shape images the base was pretrained on (data/synth.GenerateBase:
// at most 0.53 over its 3000 images).
const (
	demoStyleGain   = 0.25
	plainShapeStyle = 0.6
)
