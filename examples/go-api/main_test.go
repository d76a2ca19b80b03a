package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/sample"
	"github.com/flora-ml/flora/train"
)

// TestExampleTrainsAndSamples builds the example and runs it on the tiny
// demo for three steps: the losses its step events print are the ones the
// run recorded in metrics.jsonl, its checkpoint and preview events name
// files that exist, and the sample it writes is the requested size and
// records the adapter it was made with.
func TestExampleTrainsAndSamples(t *testing.T) {
	goTool := testutil.GoTool(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "go-api")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "run")
	be := os.Getenv(testutil.BackendEnv)
	if be == "" {
		be = "go"
	}
	cmd := exec.Command(bin, "--config", "../tiny/train.yaml", "--out", out, "--steps", "3", "--backend", be)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go-api: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	recs, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("metrics.jsonl has %d steps, want 3", len(recs))
	}
	var steps []string
	files := map[string]string{}
	for _, l := range lines {
		kind, rest, _ := strings.Cut(l, " ")
		switch kind {
		case "step":
			steps = append(steps, l)
		case "checkpoint", "preview", "adapter", "sample":
			files[kind] = rest
		}
	}
	for i, r := range recs {
		if want := fmt.Sprintf("step %d loss %.6f", r.Step, r.Loss); i >= len(steps) || steps[i] != want {
			t.Errorf("step event %d: got %q, want %q (metrics.jsonl)", i+1, steps, want)
		}
	}
	if want := filepath.Join(out, "checkpoints", "step-000003"); files["checkpoint"] != want {
		t.Errorf("checkpoint event %q, want %q", files["checkpoint"], want)
	}
	for kind, p := range files {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s event names %s: %v", kind, p, err)
		}
	}
	data, err := os.ReadFile(files["sample"])
	if err != nil {
		t.Fatalf("sample: %v\nstdout:\n%s", err, stdout.String())
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Errorf("sample is %v, want 64×64 (sample.width/height of the job)", b)
	}
	chunks, err := sample.ReadPNGText(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range chunks {
		found = found || c.Key == "loras" && c.Value == files["adapter"]
	}
	if !found {
		t.Errorf("sample's text chunks %v do not name the adapter %s", chunks, files["adapter"])
	}
}
