package pipeline

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/sample"
)

// previewRun trains the tiny demo for steps steps with a preview after each
// (prompts "a red circle…" and "a blue star…" × seeds 1 and 2, 64×64, 2
// sampling steps) and a learning rate high enough that the adapter shows,
// with extra settings; it returns the job, the previews in step order and
// the last preview's text chunks.
func previewRun(t *testing.T, steps int, sets ...string) (*job.Config, []image.Image, []sample.TextChunk) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	sets = append([]string{"output.dir=" + out, "train.steps=" + strconv.Itoa(steps), "train.warmup_steps=0", "train.save_every=0",
		"train.lr=0.05", "sample.every=1", "sample.seeds=[1, 2]", "sample.steps=2"}, sets...)
	cfg, err := job.Load("../examples/tiny/train.yaml", sets)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, RunOptions{Backend: testBackend(), Reporter: Reporter{Log: io.Discard}}); err != nil {
		t.Fatal(err)
	}
	var previews []image.Image
	for step := 1; step <= steps; step++ {
		previews = append(previews, testutil.DecodePNGFile(t, filepath.Join(out, "previews", fmt.Sprintf("step-%06d.png", step))))
	}
	f, err := os.Open(filepath.Join(out, "previews", fmt.Sprintf("step-%06d.png", steps)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunks, err := sample.ReadPNGText(f)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, previews, chunks
}

// chunk is the value of a PNG text chunk ("" when absent).
func chunk(chunks []sample.TextChunk, key string) string {
	for _, c := range chunks {
		if c.Key == key {
			return c.Value
		}
	}
	return ""
}

// maxPixelDiff is the largest difference of two images' 8-bit channels over
// rectangle ra of a and rb of b (of one size).
func maxPixelDiff(a image.Image, ra image.Rectangle, b image.Image, rb image.Rectangle) int {
	d := 0
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			r1, g1, b1, _ := a.At(ra.Min.X+x, ra.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(rb.Min.X+x, rb.Min.Y+y).RGBA()
			for _, c := range [][2]uint32{{r1, r2}, {g1, g2}, {b1, b2}} {
				d = max(d, abs(int(c[0]>>8)-int(c[1]>>8)))
			}
		}
	}
	return d
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestPreviewComparesBase: a preview shows each prompt and seed as base |
// adapter pairs (288×140 for 2 prompts × 2 seeds of 64×64: 4 + 2·(64+4+64)
// + 16 + 4 wide, 4 + 2·(64+4) high). The base tiles are the same at both
// steps and equal flora sample's images of the plain model (same prompts,
// seeds and settings) within 1/255, for a LoRA and for a LoKr previewed
// through its EMA; the adapter tiles differ from them. With
// sample.compare_base false the preview is the adapter grid alone
// (140×140; one step), whose tiles are the comparing run's step-1 adapter
// tiles: sampling the base before the first step changes nothing of the
// training.
func TestPreviewComparesBase(t *testing.T) {
	cfg, lora, chunks := previewRun(t, 2)
	if got, want := chunk(chunks, "layout"), "rows: prompts; columns: seeds, each base | adapter (base: adapter off, same seed and settings)"; got != want {
		t.Errorf("layout chunk %q, want %q", got, want)
	}
	tile := image.Pt(64, 64)
	l := previewLayout{rows: 2, seeds: 2, tile: tile, compare: true}
	for i, p := range lora {
		if got, want := p.Bounds().Size(), image.Pt(288, 140); got != want || l.size() != want {
			t.Fatalf("preview %d is %v (layout %v), want %v", i+1, got, l.size(), want)
		}
	}
	plainDir := t.TempDir()
	if _, err := Sample(context.Background(), SampleOptions{Model: cfg.Model.Path, DType: "f32", Backend: testBackend(),
		Prompts: cfg.Sample.Prompts, Seed: 1, Count: 2, Steps: 2, Guidance: cfg.Sample.Guidance, Width: 64, Height: 64,
		Out: plainDir, Reporter: Reporter{Log: io.Discard}}); err != nil {
		t.Fatal(err)
	}
	whole := image.Rectangle{Max: tile}
	check := func(name string, previews []image.Image) {
		for row := range 2 {
			for col := range 2 {
				base, adapted := l.tileRect(row, col, true), l.tileRect(row, col, false)
				if d := maxPixelDiff(previews[0], base, previews[1], base); d != 0 {
					t.Errorf("%s prompt %d seed %d: base tiles of steps 1 and 2 differ by %d/255", name, row, col+1, d)
				}
				plain := testutil.DecodePNGFile(t, filepath.Join(plainDir, []string{"00-seed1.png", "00-seed2.png", "01-seed1.png", "01-seed2.png"}[2*row+col]))
				if d := maxPixelDiff(previews[1], base, plain, whole); d > 1 {
					t.Errorf("%s prompt %d seed %d: base tile differs from the plain model's sample by %d/255", name, row, col+1, d)
				}
				if d := maxPixelDiff(previews[1], adapted, previews[1], base); d < 8 {
					t.Errorf("%s prompt %d seed %d: adapter tile differs from the base tile by only %d/255", name, row, col+1, d)
				}
			}
		}
	}
	check("lora", lora)
	_, lokr, _ := previewRun(t, 2, "adapter.type=lokr", "train.ema_decay=0.5")
	check("lokr+ema", lokr)

	_, alone, chunks := previewRun(t, 1, "sample.compare_base=false")
	if got, want := chunk(chunks, "layout"), "rows: prompts; columns: seeds (adapter)"; got != want {
		t.Errorf("layout chunk without compare_base %q, want %q", got, want)
	}
	grid := previewLayout{rows: 2, seeds: 2, tile: tile}
	if got, want := alone[0].Bounds().Size(), image.Pt(140, 140); got != want || grid.size() != want {
		t.Fatalf("preview without compare_base is %v (layout %v), want %v", got, grid.size(), want)
	}
	for row := range 2 {
		for col := range 2 {
			if d := maxPixelDiff(alone[0], grid.tileRect(row, col, false), lora[0], l.tileRect(row, col, false)); d != 0 {
				t.Errorf("prompt %d seed %d: the adapter tile without compare_base differs from the comparing run's by %d/255", row, col+1, d)
			}
		}
	}
}
