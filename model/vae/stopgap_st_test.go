package vae

// TEMPORARY: minimal float32 safetensors reader for tests until model/weights lands.

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func readF32Safetensors(t *testing.T, path string) map[string]*tensors.Tensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data[:8])
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	body := data[8+n:]
	out := map[string]*tensors.Tensor{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var info struct {
			DType   string  `json:"dtype"`
			Shape   []int   `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatal(err)
		}
		if info.DType != "F32" {
			continue
		}
		b := body[info.Offsets[0]:info.Offsets[1]]
		vals := make([]float32, len(b)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		if len(info.Shape) == 0 {
			out[name] = tensors.FromScalar(vals[0])
			continue
		}
		out[name] = tensors.FromFlatDataAndDimensions(vals, info.Shape...)
	}
	return out
}
