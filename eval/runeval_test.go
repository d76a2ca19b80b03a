package eval

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestRunEvalRoundTrip: eval.json keeps the base-model style and the
// validation set; non-finite scores and sample lists that do not match the
// prompts are refused, naming the field.
func TestRunEvalRoundTrip(t *testing.T) {
	good := RunEval{Adapter: "a.safetensors", ValidationLoss: 0.5, BaseValidationLoss: 0.6, ValidationSet: "/jobs/holdout",
		StyleScore: 0.4, StyleStd: 0.1, BaseStyleScore: 0.1, BaseStyleStd: 0.05,
		Prompts: []string{"p0", "p1"}, Samples: []string{"eval/00-seed1.png", "eval/01-seed1.png"},
		BaseSamples: []string{"eval/base/00-seed1.png", "eval/base/01-seed1.png"}, Seed: 1, SampleSteps: 2, Width: 64, Height: 64}
	for _, tc := range []struct {
		name    string
		edit    func(*RunEval)
		wantErr string
	}{
		{"complete", func(*RunEval) {}, ""},
		{"older record without base samples", func(e *RunEval) { e.BaseSamples, e.BaseStyleScore, e.BaseStyleStd, e.ValidationSet = nil, 0, 0, "" }, ""},
		{"base style NaN", func(e *RunEval) { e.BaseStyleScore = math.NaN() }, "base_style_score is NaN"},
		{"base samples short", func(e *RunEval) { e.BaseSamples = e.BaseSamples[:1] }, "1 base samples for 2 prompts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := good
			tc.edit(&e)
			dir := t.TempDir()
			err := WriteRunEval(dir, e)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadRunEval(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, e) {
				t.Errorf("read back %+v, want %+v", *got, e)
			}
		})
	}
}
