package pipeline

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/train"
)

// testBackend is the backend the test environment asks for (pure Go by
// default).
func testBackend() string {
	if be := os.Getenv(testutil.BackendEnv); be != "" {
		return be
	}
	return "go"
}

// trainLosses runs job file path for steps steps (previews at the last
// step) into a temporary folder with extra settings, and returns the losses
// it recorded and its output folder.
func trainLosses(t *testing.T, path string, steps string, sets ...string) ([]float64, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	sets = append([]string{"output.dir=" + out, "train.steps=" + steps, "train.warmup_steps=1", "train.save_every=0",
		"sample.every=" + steps, "sample.seeds=[1]", "sample.steps=2"}, sets...)
	cfg, err := job.Load(path, sets)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, RunOptions{Backend: testBackend(), Reporter: Reporter{Log: io.Discard}}); err != nil {
		t.Fatal(err)
	}
	recs, err := train.ReadMetrics(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	losses := make([]float64, len(recs))
	for i, r := range recs {
		losses[i] = r.Loss
	}
	return losses, out
}

// TestTrainFromEmbeddingTable: a table written by WriteEmbeddings from the
// demo's text encoder holds every caption and preview prompt, and training
// from it (no text encoder loaded) records exactly the losses of training
// with the encoder.
func TestTrainFromEmbeddingTable(t *testing.T) {
	const demo = "../examples/tiny/train.yaml"
	cfg, err := job.Load(demo, []string{"output.dir=" + t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(t.TempDir(), "captions.safetensors")
	res, err := WriteEmbeddings(cfg, table, testBackend(), Reporter{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(slices.Clone(cfg.Sample.Prompts), "", "a red circle in flora style") {
		if !slices.Contains(res.Prompts, p) {
			t.Errorf("table lacks %q", p)
		}
	}
	if _, err := WriteEmbeddings(&job.Config{Dataset: job.DatasetConfig{Embeddings: table}}, table, "", Reporter{}); err == nil {
		t.Error("WriteEmbeddings for a job that reads a table succeeded")
	}

	withEncoder, _ := trainLosses(t, demo, "3")
	fromTable, out := trainLosses(t, demo, "3", "dataset.embeddings="+table)
	if len(withEncoder) != 3 || !slices.Equal(withEncoder, fromTable) {
		t.Errorf("losses with the text encoder %v, from the table %v; want the same 3", withEncoder, fromTable)
	}
	if _, err := os.Stat(filepath.Join(out, "previews", "step-000003.png")); err != nil {
		t.Errorf("preview from table prompts: %v", err)
	}
}

// TestTrainOnOfficialFixture: the official tiny fixture, which has no text
// encoder, trains from the example's table; a caption missing from the
// table is named before training starts.
func TestTrainOnOfficialFixture(t *testing.T) {
	const example = "../examples/official-tiny/train.yaml"
	losses, out := trainLosses(t, example, "2")
	if len(losses) != 2 {
		t.Fatalf("losses %v, want 2", losses)
	}
	if _, err := os.Stat(filepath.Join(out, "official-tiny.safetensors")); err != nil {
		t.Error(err)
	}

	short := filepath.Join(t.TempDir(), "short.safetensors")
	tab, err := textenc.OpenTable("../examples/official-tiny/captions.safetensors", 40)
	if err != nil {
		t.Fatal(err)
	}
	keep := tab.Prompts[1:]
	ctx, err := tab.Encode(keep)
	if err != nil {
		t.Fatal(err)
	}
	if err := textenc.WriteTable(short, keep, ctx, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := job.Load(example, []string{"output.dir=" + t.TempDir(), "dataset.embeddings=" + short})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Train(context.Background(), cfg, RunOptions{Backend: testBackend(), Reporter: Reporter{Log: io.Discard}})
	if err == nil {
		t.Fatal("training with a table that lacks a caption succeeded")
	}
	testutil.CheckContains(t, "error", err.Error(), short, "lacks "+strconv.Quote(tab.Prompts[0]))
}
