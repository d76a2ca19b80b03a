package pipeline

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// layers ranks Flora's packages by path prefix, highest first: a package
// may import packages of its own layer or of lower ones, never higher
// (cmd, examples, tools → pipeline → train/sample/eval → lora/data →
// model → job/internal).
// job sits at the bottom so that any import of it is checked by
// TestOnlyTheRunnerKnowsJobs, which allows it only above the workers.
var layers = []struct {
	rank     int
	prefixes []string
}{
	{6, []string{"cmd/", "examples/", "tools/"}},
	{5, []string{"pipeline"}},
	{4, []string{"train", "sample", "eval"}},
	{3, []string{"lora", "data"}},
	{2, []string{"model/"}},
	{1, []string{"internal/", "job"}},
}

// layerOf returns the rank of a package path below the module, or 0.
func layerOf(pkg string) int {
	for _, l := range layers {
		for _, p := range l.prefixes {
			if pkg == strings.TrimSuffix(p, "/") || strings.HasPrefix(pkg, strings.TrimSuffix(p, "/")+"/") {
				return l.rank
			}
		}
	}
	return 0
}

// moduleImports lists every package of the module with its imports of
// other packages of the module, paths relative to the module.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	const mod = "github.com/flora-ml/flora/"
	out, err := exec.Command(testutil.GoTool(t), "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], mod) {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], mod)
		deps[pkg] = []string{}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, mod) {
				deps[pkg] = append(deps[pkg], strings.TrimPrefix(imp, mod))
			}
		}
	}
	if len(deps) < 30 {
		t.Fatalf("listed only %d of Flora's packages:\n%s", len(deps), out)
	}
	return deps
}

// TestDependenciesPointDown: no package imports one of a higher layer.
func TestDependenciesPointDown(t *testing.T) {
	for pkg, imps := range moduleImports(t) {
		r := layerOf(pkg)
		if r == 0 {
			t.Errorf("package %s is in no layer: add its path to layers", pkg)
			continue
		}
		for _, imp := range imps {
			if layerOf(imp) > r {
				t.Errorf("%s imports %s, a higher layer", pkg, imp)
			}
		}
	}
}

// TestOnlyTheRunnerKnowsJobs: the packages that do the work (model, lora,
// data, train, sample, eval, internal) do not depend on the job config
// package; only the runner (pipeline) and the CLI and examples above it do.
func TestOnlyTheRunnerKnowsJobs(t *testing.T) {
	for pkg, imps := range moduleImports(t) {
		for _, imp := range imps {
			if imp == "job" && layerOf(pkg) < layerOf("pipeline") {
				t.Errorf("%s imports job", pkg)
			}
		}
	}
}
