package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/weights"
)

// The diffusers export is checked by diffusers and transformers themselves:
// FLORA_UPDATE_EXPORT_FIXTURE=1 go test ./model/bundle -run ExportRoundTrip
// writes the exported folder to exportFixtureDir/model (not committed: the
// text encoder's vocabulary makes it ~20 MB) and the inputs and Flora's
// outputs to exportFixtureDir/io.safetensors; then
// `tools/reference/export_check.py testdata/export/embedded-tiny` loads the
// folder with from_pretrained, runs the same inputs and records in
// export_check.json the versions, the relative errors and every file's
// SHA-256. TestExportCheckedByDiffusers ties that evidence to the current
// writer: Flora must still write byte-identical files and the same outputs.
var exportFixtureDir = filepath.Join("..", "..", "testdata", "export", "embedded-tiny")

// exportIONames are the tensors of io.safetensors, in file order.
var exportIONames = []string{"input_ids", "attention_mask", "prompt_embeds", "x", "t", "guidance", "velocity", "latents", "pixels"}

// ioTensors names an exportRun's inputs and outputs as io.safetensors does.
func (r exportRun) ioTensors() map[string]*tensors.Tensor {
	ints := func(rows [][]int32) *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(append([]int32(nil), rows[0]...), 1, len(rows[0]))
	}
	return map[string]*tensors.Tensor{"input_ids": ints(r.ids), "attention_mask": ints(r.mask), "prompt_embeds": r.emb,
		"x": r.x, "t": r.tt, "guidance": r.guidance, "velocity": r.velocity, "latents": r.latents, "pixels": r.pixels}
}

// writeExportFixture copies the exported folder into exportFixtureDir/model
// and writes io.safetensors.
func writeExportFixture(t *testing.T, exported string, r exportRun) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(exportFixtureDir, "model")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(exportFixtureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(exportFixtureDir, "model"), os.DirFS(exported)); err != nil {
		t.Fatal(err)
	}
	named := r.ioTensors()
	var ts []weights.TensorData
	for _, n := range exportIONames {
		td, err := weights.FromTensor(n, named[n])
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, td)
	}
	layers, _ := json.Marshal(EmbeddedTinyVariant().TextLayers)
	meta := map[string]string{"text_layers": string(layers), "prompt": exportPrompt, "generator": "model/bundle export_fixture_test.go"}
	if err := weights.WriteFile(filepath.Join(exportFixtureDir, "io.safetensors"), ts, meta); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s; now run tools/reference/export_check.py testdata/export/embedded-tiny", exportFixtureDir)
}

// folderSHA256 is the SHA-256 of every file under dir by slash path.
func folderSHA256(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
