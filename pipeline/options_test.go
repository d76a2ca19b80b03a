package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/model/flux2"
)

// TestSampleOptionsValidate: each bad option is refused before anything
// loads, with an error naming the option; good ones pass.
func TestSampleOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	ok := SampleOptions{Model: "embedded:tiny", Prompts: []string{"a fox"}, Out: filepath.Join(dir, "out")}
	tests := []validationCase[SampleOptions]{
		{"defaults", func(*SampleOptions) {}, ""},
		{"no model", func(o *SampleOptions) { o.Model = "" }, "model: required"},
		{"no prompt", func(o *SampleOptions) { o.Prompts = nil }, "prompts: give a prompt"},
		{"cfg", func(o *SampleOptions) { o.CFG = "maybe" }, `cfg must be auto, on or off, got "maybe"`},
		{"dtype", func(o *SampleOptions) { o.DType = "f16" }, `dtype must be auto, bf16 or f32, got "f16"`},
		{"steps", func(o *SampleOptions) { o.Steps = -1 }, "steps must be 1 to 1000"},
		{"width", func(o *SampleOptions) { o.Width = 100 }, "width must be a multiple of 16"},
		{"height", func(o *SampleOptions) { o.Height = 8192 }, "height must be a multiple of 16"},
		{"variant", func(o *SampleOptions) { o.Variant = "klein-4b" }, "variant: variant \"klein-4b\" does not apply to embedded:tiny"},
		{"out jpg", func(o *SampleOptions) { o.Out = filepath.Join(dir, "a.jpg") }, "sample writes PNG images"},
		{"one file, two images", func(o *SampleOptions) { o.Out, o.Count = filepath.Join(dir, "a.png"), 2 }, "is one file but 2 images are requested"},
		{"one file", func(o *SampleOptions) { o.Out = filepath.Join(dir, "a.png") }, ""},
		{"out is an adapter", func(o *SampleOptions) {
			o.Out = filepath.Join(dir, "a.png")
			if err := os.WriteFile(o.Out, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			o.LoRAs = []LoRA{{Path: o.Out, Scale: 1}}
		}, "is also an input"},
	}
	checkValidation(t, ok, func(o SampleOptions) error { return o.Validate() }, tests)
}

// TestBenchOptionsValidate: bad bench options are refused, naming the
// option; block-count overrides make a named reduced variant.
func TestBenchOptionsValidate(t *testing.T) {
	ok := BenchOptions{Variant: "tiny", Mode: "train", Res: 64, Batch: 1, TextTokens: 8, DType: "auto", Rank: 2, Steps: 1,
		DoubleBlocks: -1, SingleBlocks: -1}
	tests := []validationCase[BenchOptions]{
		{"defaults", func(*BenchOptions) {}, ""},
		{"mode", func(o *BenchOptions) { o.Mode = "sample" }, "mode must be forward, train or vae-decode"},
		{"res", func(o *BenchOptions) { o.Res = 65 }, "res must be a multiple of 16"},
		{"steps", func(o *BenchOptions) { o.Steps = 0 }, "steps and batch >= 1"},
		{"variant", func(o *BenchOptions) { o.Variant = "klein-99b" }, "klein-99b"},
		{"attention", func(o *BenchOptions) { o.Attention.Kernel = "flash" }, `attention: attention kernel "flash"`},
		{"attention block", func(o *BenchOptions) { o.Attention.BlockQ = -1 }, "attention-block: attention query block -1"},
		{"blocks on host", func(o *BenchOptions) { o.Memory = flux2.MemoryOptions{BlocksOnHost: 99} }, "blocks-on-host:"},
	}
	checkValidation(t, ok, func(o BenchOptions) error { return o.Validate() }, tests)
	o := ok
	o.DoubleBlocks = 1
	v, err := o.variant()
	if err != nil || v.Name != fmt.Sprintf("tiny-1+%d", v.Config.DepthSingle) || v.Config.Depth != 1 {
		t.Errorf("reduced variant %q (%d double blocks), %v", v.Name, v.Config.Depth, err)
	}
}

// validationCase edits valid options into a case: want is a part of the
// error Validate must give, or "" for options that must pass.
type validationCase[O any] struct {
	name string
	edit func(*O)
	want string
}

// checkValidation runs each case on a copy of the valid options ok.
func checkValidation[O any](t *testing.T, ok O, validate func(O) error, tests []validationCase[O]) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			err := validate(o)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
