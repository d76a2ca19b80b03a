package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights"
)

// exportFixtureDir holds the diffusers export of embedded:tiny with the
// inputs and outputs Flora computed on it, which
// tools/reference/export_check.py loads in diffusers / transformers and
// compares (writing export_check.json next to them).
const exportFixtureDir = "testdata/export"

// writeExportFixture copies the exported folder into exportFixtureDir/model
// and writes the inputs and Flora's outputs to exportFixtureDir/io.safetensors
// (FLORA_UPDATE_EXPORT_FIXTURE=1 go test ./model/bundle -run ExportRoundTrip).
func writeExportFixture(t *testing.T, exported string, r exportRun) {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "model", "bundle", exportFixtureDir)
	if err := os.RemoveAll(filepath.Join(dir, "model")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "model"), os.DirFS(exported)); err != nil {
		t.Fatal(err)
	}
	ints := func(rows [][]int32) *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(append([]int32(nil), rows[0]...), 1, len(rows[0]))
	}
	named := map[string]*tensors.Tensor{"input_ids": ints(r.ids), "attention_mask": ints(r.mask), "prompt_embeds": r.emb,
		"x": r.x, "t": r.tt, "guidance": r.guidance, "velocity": r.velocity, "latents": r.latents, "pixels": r.pixels}
	var ts []weights.TensorData
	for _, n := range []string{"input_ids", "attention_mask", "prompt_embeds", "x", "t", "guidance", "velocity", "latents", "pixels"} {
		td, err := weights.FromTensor(n, named[n])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, td)
	}
	layers, _ := json.Marshal(EmbeddedTinyVariant().TextLayers)
	if err := weights.WriteFile(filepath.Join(dir, "io.safetensors"), ts, map[string]string{"text_layers": string(layers), "prompt": exportPrompt}); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", dir)
}
