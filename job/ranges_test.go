package job

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestEveryFloatKeyHasARange: every float setting of a job has an entry in
// FloatRanges, and every entry names a float setting.
func TestEveryFloatKeyHasARange(t *testing.T) {
	cfg := Default()
	cfg.Adapter.Overrides = []AdapterOverride{{Pattern: "x"}}
	cfg.Dataset.Folders = []DatasetFolder{{Path: "x"}}
	seen := map[string]bool{}
	floatFields(reflect.ValueOf(cfg).Elem(), "", func(path string, _ float64) {
		key := floatRangeKey(path)
		seen[key] = true
		if _, ok := FloatRanges[key]; !ok {
			t.Errorf("float setting %s (%s) has no entry in FloatRanges", path, key)
		}
	})
	for key := range FloatRanges {
		if !seen[key] {
			t.Errorf("FloatRanges entry %s names no float setting", key)
		}
	}
	if len(seen) < 17 {
		t.Errorf("found %d float settings, want >= 17", len(seen))
	}
	// Every default is inside its range.
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "must be a number") {
		t.Errorf("defaults: %v", err)
	}
}

// TestFloatSettingsFiniteAndInRange: NaN, Inf and absurd values of float
// settings are refused, each named by its own key (never a neighbour's, as
// train.lr=NaN once was reported as a train.min_lr problem).
func TestFloatSettingsFiniteAndInRange(t *testing.T) {
	tests := []struct {
		set, key, want string
	}{
		{"train.lr=.nan", "train.lr", "must be a finite number in (0, 1], got NaN"},
		{"train.lr=NaN", "train.lr", `must be a finite number, got "NaN" (from --set)`},
		{"train.lr=Inf", "train.lr", `must be a finite number, got "Inf"`},
		{"train.lr=1e400", "train.lr", `must be a finite number, got "1e400"`},
		{"train.lr=5", "train.lr", "must be a number in (0, 1], got 5"},
		{"train.weight_decay=.inf", "train.weight_decay", "must be a finite number in [0, 1], got +Inf"},
		{"train.sigmoid_scale=.inf", "train.sigmoid_scale", "must be a finite number in (0, 100], got +Inf"},
		{"train.sigmoid_scale=0", "train.sigmoid_scale", "must be a number in (0, 100], got 0"},
		{"train.min_lr=-.inf", "train.min_lr", "must be a finite number in [0, 1], got -Inf"},
		{"train.beta2=1", "train.beta2", "must be a number in [0, 1), got 1"},
		{"train.eps=0", "train.eps", "must be a number in (0, 1], got 0"},
		{"train.max_grad_norm=.nan", "train.max_grad_norm", "got NaN"},
		{"train.logit_mean=1e6", "train.logit_mean", "must be a number in [-10, 10], got 1e+06"},
		{"train.logit_std=-1", "train.logit_std", "got -1"},
		{"train.guidance=1e39", "train.guidance", "must be a number in [0, 100], got 1e+39"},
		{"train.ema_decay=1", "train.ema_decay", "0.999 is typical"},
		{"sample.guidance=.nan", "sample.guidance", "got NaN"},
		{"adapter.alpha=.inf", "adapter.alpha", "got +Inf"},
		{"adapter.dropout=1", "adapter.dropout", "must be a number in [0, 1), got 1"},
		{"dataset.caption_dropout=1.5", "dataset.caption_dropout", "must be a number in [0, 1], got 1.5"},
		{"adapter.overrides.0={pattern: x, rank: 4, alpha: .nan}", "adapter.overrides.0.alpha", "got NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			_, err := Parse([]byte(minimal), "job.yaml", []string{tc.set})
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want problems, got %v", err)
			}
			if len(ps.List) != 1 || ps.List[0].Path != tc.key || !strings.Contains(ps.List[0].Msg, tc.want) {
				t.Errorf("want exactly one problem %s: ...%s...; got:\n%v", tc.key, tc.want, err)
			}
		})
	}
	// A NaN lr next to a min_lr is still only an lr problem.
	_, err := Parse([]byte(minimal+"train:\n  lr: .nan\n  min_lr: 1e-5\n"), "job.yaml", nil)
	if err == nil || strings.Contains(err.Error(), "min_lr") || !strings.Contains(err.Error(), "train.lr: must be a finite number") {
		t.Errorf("lr NaN with min_lr: %v", err)
	}
	// The cross-check stays: min_lr above a valid lr.
	_, err = Parse([]byte(minimal+"train:\n  lr: 1e-5\n  min_lr: 1e-4\n"), "job.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "train.min_lr: must be <= train.lr (1e-05), got 0.0001") {
		t.Errorf("min_lr above lr: %v", err)
	}
}

func TestFloatRange(t *testing.T) {
	r := FloatRange{Min: 0, Max: 1, MinOpen: true}
	for v, ok := range map[float64]bool{0: false, 1e-9: true, 1: true, 1.0000001: false, math.NaN(): false, math.Inf(1): false, -1: false} {
		if r.Contains(v) != ok || (r.Check(v) == nil) != ok {
			t.Errorf("(0, 1] contains %g: got %v, want %v", v, r.Contains(v), ok)
		}
	}
	if got := r.String(); got != "(0, 1]" {
		t.Errorf("String = %q", got)
	}
	if got := floatRangeKey("adapter.overrides.12.alpha"); got != "adapter.overrides.*.alpha" {
		t.Errorf("floatRangeKey = %q", got)
	}
	if got := floatRangeKey("a.1.2.b"); got != "a.*.*.b" {
		t.Errorf("floatRangeKey = %q", got)
	}
}

func TestCheckImageSide(t *testing.T) {
	for side, want := range map[int]string{64: "", 1024: "", 4096: "", 48: "got 48; try 64", 1000: "got 1000; try 1008",
		100000: "in [64, 4096] (FLUX.2 latents are 16× smaller), got 100000; try 4096", -5: "try 64"} {
		err := CheckImageSide(side)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckImageSide(%d) = %v, want %q", side, err, want)
		}
	}
}
