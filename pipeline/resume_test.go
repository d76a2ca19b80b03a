package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/job"
)

// TestWarnChangedSettings: a resume names each changed optimisation setting
// and a changed backend with old and new values.
func TestWarnChangedSettings(t *testing.T) {
	old := job.Default()
	text, err := old.YAML()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := fmt.Sprintf(`{"step": 5, "backend": "xla:cuda", "config": %q}`, text)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	cur := job.Default()
	cur.Train.BatchSize = 4
	cur.Train.SaveEvery = 3 // not an optimisation setting
	var errb bytes.Buffer
	rep := Reporter{Log: &errb}
	warnChangedSettings(dir, cur, "go", rep)
	want := "warning: resuming with settings changed since the checkpoint (the run continues with the new ones):\n  train.batch_size: 1 → 4\n  backend: xla:cuda → go\n"
	if errb.String() != want {
		t.Errorf("got %q, want %q", errb.String(), want)
	}
	errb.Reset()
	warnChangedSettings(dir, old, "xla:cuda", rep)
	if errb.Len() != 0 {
		t.Errorf("unchanged settings warned: %q", errb.String())
	}
}
