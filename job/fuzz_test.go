package job

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary YAML and `--set` overrides (one per line of
// sets) to Parse: it must never panic; a rejection is a *Problems error with
// at least one problem; an accepted configuration validates and survives
// --print-config: its YAML parses back to a configuration that prints the
// same. Only the seeds run in a normal `go test`.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal), "")
	f.Add([]byte(minimal), "train.lr=2e-4\ndataset.folders.1.path=more\nsample.prompts.0=a cat")
	f.Add([]byte(minimal+"train:\n  lrr: 1e-4\n  steps: x\nadapter:\n  overrides:\n    - {pattern: '*', rank: 4}\n"), "..=5\ntrain")
	f.Add([]byte("model: {path: embedded:tiny}\nmodel: {path: a}\n"), "train={steps: 5}")
	f.Add([]byte("a: &x [*x]\n"), "name=")
	f.Add([]byte("model:\n  path: m\nsample:\n  seeds: [1, 2, -3]\n  guidance: .inf\n"), "dataset.resolutions=[512, 1024]\nmodel=null\nmodel.path=q\ndataset.folders.0.path=d")
	f.Add([]byte("- 1\n- 2\n"), "0=1")
	f.Add([]byte(""), "model.path=embedded:tiny\ndataset.folders.0.path=d\noutput.formats.0=kohya")
	f.Fuzz(func(t *testing.T, data []byte, sets string) {
		var setList []string
		if sets != "" {
			setList = strings.Split(sets, "\n")
		}
		cfg, err := Parse(data, "job.yaml", setList)
		if err != nil {
			var ps *Problems
			if !errors.As(err, &ps) || len(ps.List) == 0 {
				t.Fatalf("rejection is not a non-empty problem list: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted configuration does not re-validate: %v", err)
		}
		printed, err := cfg.YAML()
		if err != nil {
			t.Fatalf("printing an accepted configuration: %v", err)
		}
		again, err := Parse([]byte(printed), "", nil)
		if err != nil {
			t.Fatalf("printed configuration is rejected: %v\n%s", err, printed)
		}
		reprinted, err := again.YAML()
		if err != nil {
			t.Fatalf("printing the re-read configuration: %v", err)
		}
		if reprinted != printed {
			t.Fatalf("printed configuration changes when re-read:\n%s\n---\n%s", printed, reprinted)
		}
	})
}
