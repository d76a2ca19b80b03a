package pipeline

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
)

// TestWarnIncompatibleExports: a run training every layer that exports only
// the kohya file is warned, before training, that diffusers drops six of its
// layers; exporting the diffusers file too silences it.
func TestWarnIncompatibleExports(t *testing.T) {
	targets, err := lora.Spec{Preset: lora.PresetAll, Rank: 2}.Plan(flux2.TinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := lora.NewAdapter(targets, 1)
	for _, tc := range []struct {
		formats []string
		want    string
	}{
		{[]string{"kohya"}, "warning: output.formats [kohya]: diffusers drops 6 of the"},
		{[]string{"kohya", "diffusers"}, ""},
	} {
		cfg := job.Default()
		cfg.Output.Formats = tc.formats
		var log bytes.Buffer
		if err := warnIncompatibleExports(cfg, a, Reporter{Log: &log}); err != nil {
			t.Fatal(err)
		}
		if tc.want == "" && log.Len() > 0 || !strings.Contains(log.String(), tc.want) {
			t.Errorf("formats %v: log %q, want %q", tc.formats, log.String(), tc.want)
		}
	}
}
