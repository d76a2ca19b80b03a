package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights"
)

// headerParams counts the tensors and elements of a safetensors file by
// reading its JSON header directly (independently of model/weights).
func headerParams(t *testing.T, path string) (tensors int, params int64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	for name, entry := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct{ Shape []int64 }
		if err := json.Unmarshal(entry, &e); err != nil {
			t.Fatal(err)
		}
		p := int64(1)
		for _, d := range e.Shape {
			p *= d
		}
		tensors++
		params += p
	}
	return tensors, params
}

func TestModelInspectFixture(t *testing.T) {
	tinyTransformer := needFixture(t, "transformer.safetensors")
	wantTensors, wantParams := headerParams(t, tinyTransformer)
	if wantTensors != 43 {
		t.Fatalf("fixture has %d tensors, README says 43", wantTensors)
	}

	code, out, errs := runCLI(t, "model", "inspect", tinyTransformer)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errs)
	}
	testutil.CheckContains(t, "output", out,
		"Tensors:    43\n",
		fmt.Sprintf("Parameters: %d ", wantParams),
		"Layout:     official FLUX.2 transformer\n",
		"double_blocks.0.img_attn.qkv.weight",
		"[288, 96]",
		"format: bfl",
		fmt.Sprintf("Model:      FLUX.2 tiny, %d parameters", wantParams))

	code, out, errs = runCLI(t, "model", "inspect", "--json", tinyTransformer)
	if code != 0 {
		t.Fatalf("--json exit %d, stderr: %s", code, errs)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out)
	}
	if rep.TensorCount != 43 || len(rep.Tensors) != 43 || rep.ParameterCount != wantParams ||
		rep.TotalBytes != 4*wantParams || rep.Layout.Description != "official FLUX.2 transformer" ||
		rep.Layout.Kind != "flux2-transformer-official" || rep.Metadata["format"] != "bfl" {
		t.Errorf("JSON report = count %d/%d params %d bytes %d layout %+v metadata %v; want 43 tensors, %d params",
			rep.TensorCount, len(rep.Tensors), rep.ParameterCount, rep.TotalBytes, rep.Layout, rep.Metadata, wantParams)
	}
}

// TestModelInspectDiffusersVariant: the diffusers layout also names the
// architecture (here a custom tiny one) and counts its parameters.
func TestModelInspectDiffusersVariant(t *testing.T) {
	code, out, errs := runCLI(t, "model", "inspect", "--json", "../../testdata/diffusers/flux2-tiny-dev/transformer")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// 117,696 parameters per diffusers (tools/reference/flux2_transformer.py).
	if rep.Model == nil || rep.Model.Parameters != 117696 || rep.Model.Variants[0] != "custom" || !rep.Model.GuidanceEmbed || rep.Layout.Kind != "flux2-transformer-diffusers" {
		t.Errorf("model %+v layout %+v", rep.Model, rep.Layout)
	}
}

func TestModelInspectShardedFolder(t *testing.T) {
	dir := t.TempDir()
	if err := weights.WriteFile(filepath.Join(dir, "a.safetensors"), []weights.TensorData{
		weights.Float32Data("x_embedder.weight", []int{4, 2}, make([]float32, 8)),
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteFile(filepath.Join(dir, "b.safetensors"), []weights.TensorData{
		weights.Float32Data("single_transformer_blocks.0.attn.to_qkv_mlp_proj.weight", []int{3, 3}, make([]float32, 9)),
	}, nil); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "model", "inspect", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 2 || rep.TensorCount != 2 || rep.ParameterCount != 17 || rep.Tensors[0].File != "b.safetensors" || rep.Tensors[1].File != "a.safetensors" ||
		rep.Layout.Description != "diffusers FLUX.2 transformer" {
		t.Errorf("report = %+v", rep)
	}
	code, out, _ = runCLI(t, "model", "inspect", dir)
	if code != 0 || !strings.Contains(out, "Files:      2\n") || !strings.Contains(out, "b.safetensors") {
		t.Errorf("table output (exit %d):\n%s", code, out)
	}
}

func TestModelInspectErrors(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.safetensors")
	raw, err := os.ReadFile(needFixture(t, "transformer.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, truncated, raw[:len(raw)/2])
	garbage := testutil.WriteFile(t, filepath.Join(dir, "garbage.safetensors"), []byte("\x05\x00\x00\x00\x00\x00\x00\x00hello"))
	missing := filepath.Join(dir, "missing.safetensors")
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"model", "inspect", truncated}, 1, []string{truncated, "run past the end of the data"}},
		{[]string{"model", "inspect", "--json", garbage}, 1, []string{garbage, "must be a JSON object"}},
		{[]string{"model", "inspect", missing}, 1, []string{missing, "does not exist"}},
		{[]string{"model", "inspect"}, 2, []string{"expected one checkpoint path"}},
		{[]string{"model"}, 2, []string{"inspect"}},
	}
	for _, tc := range tests {
		code, out, errs := runCLI(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %s)", tc.args, code, tc.code, errs)
		}
		if tc.code == 1 && out != "" {
			t.Errorf("%v: printed to stdout on error: %s", tc.args, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr lacks %q: %s", tc.args, w, errs)
			}
		}
	}
}
