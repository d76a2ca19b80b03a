package eval

import (
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"

	"github.com/flora-ml/flora/data/synth"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/plot"
)

// fakeEval gives a fake run an adapter file of size bytes and, with
// prompts, an eval.json whose samples are synth images; with base, the
// record also has base-model samples (style 0.01) and a validation set, as
// flora eval run writes today (without: an older record).
func fakeEval(t *testing.T, dir string, bytes int, val, style float64, prompts []string, base bool) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "adapter.safetensors"), make([]byte, bytes), 0o644); err != nil {
		t.Fatal(err)
	}
	if prompts == nil {
		return
	}
	ex, err := synth.GenerateBase(synth.BaseOptions{Count: len(prompts), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := RunEval{ValidationLoss: val, BaseValidationLoss: 0.9, StyleScore: style, Prompts: prompts}
	for _, x := range ex {
		name := filepath.Join("eval", x.Name+".png")
		if err := fsutil.WriteAtomic(filepath.Join(dir, name), func(w io.Writer) error { return png.Encode(w, x.Image) }); err != nil {
			t.Fatal(err)
		}
		e.Samples = append(e.Samples, name)
	}
	if base {
		e.BaseSamples, e.BaseStyleScore, e.BaseStyleStd, e.ValidationSet = e.Samples, 0.01, 0.002, "examples/tiny/holdout"
	}
	if err := WriteRunEval(dir, e); err != nil {
		t.Fatal(err)
	}
}

// TestReport: the report table has a row per run with its eval numbers,
// adapter size and steps; the plots exist and decode; the sample grid has
// the base model's row and a row per run, a column per prompt; runs without eval.json leave
// dashes and blank rows, and with none at all the eval plots are skipped.
func TestReport(t *testing.T) {
	two := []string{"a blue circle in flora style", "a red square in flora style"}
	for _, tc := range []struct {
		name      string
		withEval  []bool
		wantFiles []string
		wantRows  []string
	}{
		{"all evaluated", []bool{true, true, true}, []string{ReportFile, LossCurvesPlot, ValidationRankPlot, StyleRankPlot, SamplesGrid},
			[]string{"| run | rank | validation loss | style score | base style | adapter size | train time | steps |",
				"| r4 | 4 | 0.04000 | 0.040 ± 0.000 | 0.010 ± 0.002 | 4.0 KiB | 25s | 50 |",
				"| r16 | 16 | 0.16000 | 0.160 ± 0.000 | 0.010 ± 0.002 | 16.0 KiB | 25s | 50 |",
				"| r32 | 32 | 0.32000 | 0.320 ± 0.000 | - | 32.0 KiB | 25s | 50 |", // older record: no base samples
				"Validation loss is measured on examples/tiny/holdout.", "Base style: the base model's style score",
				"1. base (no adapter)\n2. r4: rank 4\n3. r16: rank 16\n4. r32: rank 32\n"}},
		{"one evaluated", []bool{false, true, false}, []string{ReportFile, LossCurvesPlot, ValidationRankPlot, StyleRankPlot, SamplesGrid},
			[]string{"| r4 | 4 | - | - | - | 4.0 KiB | 25s | 50 |", "| r16 | 16 | 0.16000 | 0.160 ± 0.000 | 0.010 ± 0.002 |"}},
		{"none evaluated", []bool{false, false, false}, []string{ReportFile, LossCurvesPlot},
			[]string{"| r32 | 32 | - | - | - |", "samples: not drawn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var runs []*Run
			for i, rank := range []int{4, 16, 32} {
				name := "r" + strconv.Itoa(rank)
				dir := fakeRun(t, root, name, rank, 1)
				var prompts []string
				if tc.withEval[i] {
					prompts = two
				}
				fakeEval(t, dir, rank<<10, float64(rank)/100, float64(rank)/100, prompts, rank != 32)
				r, err := LoadRun(dir)
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, r)
			}
			out := filepath.Join(root, "report")
			files, err := Report(out, runs)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(tc.wantFiles) {
				t.Errorf("wrote %v, want %v", files, tc.wantFiles)
			}
			for _, f := range tc.wantFiles {
				p := filepath.Join(out, f)
				if f == ReportFile {
					continue
				}
				img := testutil.DecodePNGFile(t, p)
				if f != SamplesGrid {
					continue
				}
				// The base model's row (from the first run with base samples), then the runs.
				g := &plot.ImageGrid{Rows: make([][]image.Image, 4), ColLabels: two,
					RowLabels: []string{BaseRowLabel, "rank 4", "rank 16", "rank 32"}}
				g.Rows[0] = []image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))}
				w, h, err := g.Size()
				if err != nil {
					t.Fatal(err)
				}
				if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
					t.Errorf("samples grid %v, want %dx%d (4 rows of 2 columns)", img.Bounds(), w, h)
				}
				if want := plot.GridHeader + 4*(128+plot.GridPad) + plot.GridPad; h != want {
					t.Errorf("grid height %d, want %d", h, want)
				}
			}
			md, err := os.ReadFile(filepath.Join(out, ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range tc.wantRows {
				if !strings.Contains(string(md), row) {
					t.Errorf("report.md lacks %q:\n%s", row, md)
				}
			}
		})
	}
}
