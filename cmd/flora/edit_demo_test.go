package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/sample"
	"github.com/flora-ml/flora/train"
)

// The edit demo's folders and job (examples/tiny-edit).
const (
	editDemoData    = "../../examples/tiny-edit/data"
	editDemoControl = "../../examples/tiny-edit/control"
	editDemoJob     = "../../examples/tiny-edit/train.yaml"
	// editDemoRef is the job's sample.references entry.
	editDemoRef = "../../examples/tiny-edit/control/00-circle-blue-to-red.png"
)

// TestEditDemoDataCheck runs the edit demo's first command: flora data
// check finds a reference for every image, none missing or extra.
func TestEditDemoDataCheck(t *testing.T) {
	code, out, errs := runCLI(t, "data", "check", editDemoData, "--control", editDemoControl, "--resolution", "64", "--min-side", "64", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var rep dataCheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if len(rep.Items) != 24 || len(rep.Problems) != 0 {
		t.Errorf("%d items, problems %v; want 24 and none", len(rep.Items), rep.Problems)
	}
	if r := rep.References; len(r) != 1 || r[0].Targets != 24 || r[0].References != 24 || r[0].Missing != 0 || r[0].Extra != 0 || r[0].Unusable != 0 {
		t.Errorf("references %+v, want 24 images with 24 references, none missing, extra or unusable", r)
	}
	for _, it := range rep.Items {
		want := filepath.Join(editDemoControl, filepath.Base(it.Path))
		if len(it.References) != 1 || it.References[0].Path != want {
			t.Errorf("%s: references %+v, want %s", it.Path, it.References, want)
		}
	}
}

// TestEditDemoTrains runs the edit demo's job for three steps: the latent
// cache holds the 24 targets and their 24 references, metrics.jsonl has
// the three steps, and the preview records the job's reference image (name
// and SHA-256) in its "references" text chunk.
func TestEditDemoTrains(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "train", "--config", editDemoJob, "--set", "output.dir="+out,
		"--set", "train.steps=3", "--set", "train.warmup_steps=1", "--set", "train.save_every=3", "--set", "sample.every=3", "--set", "sample.prompts=[make the circle red]")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	testutil.CheckContains(t, "train log", stderr, "latent cache: 48 entries")
	recs, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d metrics records, err %v; want 3", len(recs), err)
	}
	for _, r := range recs {
		if !(r.Loss > 0) {
			t.Errorf("step %d: loss %g", r.Step, r.Loss)
		}
	}
	f, err := os.Open(filepath.Join(out, "previews", "step-000003.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunks, err := sample.ReadPNGText(f)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(editDemoRef)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(ref)
	want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(editDemoRef)
	got := ""
	for _, c := range chunks {
		if c.Key == "references" {
			got = c.Value
		}
	}
	if got != want {
		t.Errorf("preview references chunk %q, want %q", got, want)
	}
	if !strings.Contains(stdout+stderr, "step 3/3") {
		t.Errorf("log lacks step 3/3:\n%s", stderr)
	}
}
