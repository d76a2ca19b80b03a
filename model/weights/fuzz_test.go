package weights

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// FuzzParseHeader feeds arbitrary file contents to the parser: it must never
// panic, and whatever it accepts must be self-consistent and survive being
// written back. The seed corpus lives in testdata/fuzz/FuzzParseHeader.
func FuzzParseHeader(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, dataStart, err := parseFile(data)
		if err != nil {
			return
		}
		dataLen := int64(len(data)) - dataStart
		var pos int64
		specs := make([]TensorSpec, len(h.tensors))
		byOffset := slices.Clone(h.tensors)
		slices.SortStableFunc(byOffset, func(a, b TensorInfo) int {
			if a.Begin != b.Begin {
				return int(a.Begin - b.Begin)
			}
			return int(a.End - b.End)
		})
		for i, ti := range byOffset {
			if i > 0 && h.tensors[i-1].Name >= h.tensors[i].Name {
				t.Fatalf("names not sorted/unique: %q, %q", h.tensors[i-1].Name, h.tensors[i].Name)
			}
			if ti.Begin != pos || ti.End < ti.Begin || ti.End > dataLen {
				t.Fatalf("tensor %q at [%d,%d) breaks contiguity at %d (data %d)", ti.Name, ti.Begin, ti.End, pos, dataLen)
			}
			if n, ok := byteSize(ti.DType, ti.Shape); !ok || n != ti.NumBytes() {
				t.Fatalf("tensor %q: size %d does not match shape %v", ti.Name, ti.NumBytes(), ti.Shape)
			}
			pos = ti.End
			specs[i] = TensorSpec{Name: ti.Name, DType: ti.DType, Shape: ti.Shape}
		}
		if pos != dataLen {
			t.Fatalf("tensors cover %d of %d bytes", pos, dataLen)
		}
		// Writing the accepted header back yields the same tensors.
		hdr, _, err := encodeHeader(specs, h.metadata)
		if err != nil {
			t.Fatalf("re-encoding an accepted header: %v", err)
		}
		h2, err := parseHeader(hdr, dataLen)
		if err != nil {
			t.Fatalf("re-parsing a re-encoded header: %v", err)
		}
		if len(h2.tensors) != len(h.tensors) || len(h2.metadata) != len(h.metadata) {
			t.Fatalf("re-parsed %d tensors/%d metadata, want %d/%d", len(h2.tensors), len(h2.metadata), len(h.tensors), len(h.metadata))
		}
		for i := range h.tensors {
			a, b := h.tensors[i], h2.tensors[i]
			if a.Name != b.Name || a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || a.NumBytes() != b.NumBytes() {
				t.Fatalf("tensor %d changed: %+v → %+v", i, a, b)
			}
		}
		for k, v := range h.metadata {
			if h2.metadata[k] != v {
				t.Fatalf("metadata %q changed", k)
			}
		}
	})
}

// fuzzSeeds returns small files exercising each validation path.
func fuzzSeeds() [][]byte {
	valid := rawFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[8,10]}}`, make([]byte, 10))
	absurd := make([]byte, 16)
	binary.LittleEndian.PutUint64(absurd, 1<<63)
	return [][]byte{
		valid,
		valid[:len(valid)-3], // truncated data
		valid[:20],           // truncated header
		absurd,
		rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
		rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)),
		rawFile(`{"z":{"dtype":"F8_E4M3","shape":[0],"data_offsets":[0,0]},"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}   `, make([]byte, 8)),
		rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
		rawFile(`[1,2,3]`, nil),
		rawFile(`{"__metadata__":{"k":1}}`, nil),
	}
}

// TestWriteFuzzSeeds regenerates the committed seed corpus when
// FLORA_WRITE_FUZZ_SEEDS=1 (a generator, not a check).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FLORA_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set FLORA_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz/FuzzParseHeader")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseHeader")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSeeds() {
		sum := sha256.Sum256(seed)
		testutil.WriteFile(t, filepath.Join(dir, fmt.Sprintf("seed%02d-%x", i, sum[:6])), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)))
	}
}
