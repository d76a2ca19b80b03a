package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/weights"
)

// exportCheck is export_check.json (tools/reference/export_check.py).
type exportCheck struct {
	Diffusers    string            `json:"diffusers"`
	Transformers string            `json:"transformers"`
	Files        map[string]string `json:"files"`
	Transformer  struct {
		RelL2 *float64 `json:"rel_l2"`
	} `json:"transformer"`
	VAE struct {
		RelL2 *float64 `json:"rel_l2"`
	} `json:"vae"`
	TextEncoder struct {
		InputIDsEqual      bool     `json:"input_ids_equal"`
		AttentionMaskEqual bool     `json:"attention_mask_equal"`
		RelL2              *float64 `json:"rel_l2"`
	} `json:"text_encoder"`
}

// TestExportCheckedByDiffusers: diffusers and transformers loaded the
// diffusers export with from_pretrained and computed Flora's outputs (rel.
// L2 ≤ 1e-5, the same prompt tokens), and today's export is that folder
// byte for byte, with the same inputs and outputs.
func TestExportCheckedByDiffusers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(exportFixtureDir, "export_check.json"))
	if err != nil {
		t.Fatalf("%v (regenerate: see export_fixture_test.go)", err)
	}
	var chk exportCheck
	if err := json.Unmarshal(data, &chk); err != nil {
		t.Fatal(err)
	}
	t.Logf("checked with diffusers %s, transformers %s", chk.Diffusers, chk.Transformers)
	for what, e := range map[string]*float64{"transformer": chk.Transformer.RelL2, "vae": chk.VAE.RelL2, "text encoder": chk.TextEncoder.RelL2} {
		if e == nil || *e > 1e-5 {
			t.Errorf("%s: diffusers vs Flora relative L2 %v, want ≤ 1e-5", what, e)
		}
	}
	if !chk.TextEncoder.InputIDsEqual || !chk.TextEncoder.AttentionMaskEqual {
		t.Error("the exported tokenizer (transformers, with its chat template) tokenizes the prompt otherwise than Flora")
	}
	backend := testutil.Backend(t)
	dir := filepath.Join(t.TempDir(), "tiny")
	if _, err := Export(backend, "embedded:tiny", ExportDiffusers, dir, false); err != nil {
		t.Fatal(err)
	}
	got := folderSHA256(t, dir)
	for f, sum := range chk.Files {
		if got[f] != sum {
			t.Errorf("%s: SHA-256 %s, the checked export had %s", f, got[f], sum)
		}
	}
	if len(got) != len(chk.Files) {
		t.Errorf("export writes %d files, the checked one had %d", len(got), len(chk.Files))
	}
	emb, err := LoadEmbedded(backend, "embedded:tiny", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := weights.OpenCheckpoint(filepath.Join(exportFixtureDir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	run := runParts(t, emb).ioTensors()
	for _, n := range exportIONames {
		want, err := ck.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		if want.DType() == dtypes.Int32 {
			if !want.Shape().Equal(run[n].Shape()) || !slices.Equal(tensors.MustCopyFlatData[int32](run[n]), tensors.MustCopyFlatData[int32](want)) {
				t.Errorf("%s differs from the checked fixture", n)
			}
			continue
		}
		testutil.CheckRelL2Tensors(t, n+" vs the checked fixture", run[n], want, 1e-6)
	}
}
