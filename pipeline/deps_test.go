package pipeline

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestOnlyTheRunnerKnowsJobs: the packages that do the work (model, lora,
// data, train, sample, eval, internal) do not depend on the job config
// package, nor on this runner or the CLI: dependencies point down
// (cmd → pipeline → train/sample/eval → lora/data → model → internal).
func TestOnlyTheRunnerKnowsJobs(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Skip("no go tool to list dependencies with")
		}
	}
	const mod = "github.com/flora-ml/flora/"
	workers := []string{"model/...", "lora/...", "data/...", "train/...", "sample/...", "eval/...", "internal/..."}
	args := []string{"list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}
	for _, w := range workers {
		args = append(args, mod+w)
	}
	out, err := exec.Command(goTool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], mod) {
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			for _, above := range []string{mod + "job", mod + "pipeline", mod + "cmd/"} {
				if imp == above || strings.HasPrefix(imp, above) && strings.HasSuffix(above, "/") {
					t.Errorf("%s imports %s", fields[0], imp)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d of Flora's packages:\n%s", checked, out)
	}
}
