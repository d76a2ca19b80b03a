package job

import (
	"strings"
	"testing"
)

// TestFullTrainingKeys: adapter.type full needs float32 weights it can
// update (model.dtype f32, no quantization) and no adapter to start from;
// each problem names the key and the fix.
func TestFullTrainingKeys(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sets       []string
		wantErrors []string
	}{
		{name: "f32", sets: []string{"adapter.type=full", "model.dtype=f32"}},
		{name: "bf16", sets: []string{"adapter.type=full", "model.dtype=bf16"}, wantErrors: []string{"model.dtype: must be f32 with adapter.type full"}},
		{name: "quantized", sets: []string{"adapter.type=full", "model.dtype=f32", "model.quantize=nf4"},
			wantErrors: []string{"model.quantize: must be none with adapter.type full"}},
		{name: "init_from", sets: []string{"adapter.type=full", "model.dtype=f32", "adapter.init_from=a.safetensors"},
			wantErrors: []string{"adapter.init_from: does not apply to adapter.type full", "set model.path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal), "/jobs/a.yaml", tc.sets)
			if len(tc.wantErrors) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.wantErrors {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
