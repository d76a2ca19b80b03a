package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

func TestOpenRejectsBadFiles(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<62)
	pastEnd := make([]byte, 16)
	binary.LittleEndian.PutUint64(pastEnd, 9)
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty file", nil, "too short"},
		{"seven bytes", []byte{1, 2, 3, 4, 5, 6, 7}, "too short"},
		{"absurd header length", hugeLen, "exceeds the 104857600-byte limit"},
		{"header length past end", pastEnd, "exceeds the 8 bytes after the length field"},
		{"truncated file", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)), "run past the end"},
		{"not JSON", rawFile(`hello`, nil), "must be a JSON object starting with '{'"},
		{"bad JSON", rawFile(`{hello}`, nil), "invalid JSON"},
		{"empty header", rawFile(``, nil), "must be a JSON object starting with '{'"},
		{"leading space", rawFile(` {}`, nil), "must be a JSON object starting with '{'"},
		{"truncated JSON", rawFile(`{"a":`, nil), "JSON ends early"},
		{"array header", rawFile(`[]`, nil), "must be a JSON object"},
		{"string header", rawFile(`"x"`, nil), "must be a JSON object"},
		{"trailing garbage", rawFile(`{}x`, nil), "after the header object"},
		{"two objects", rawFile(`{} {}`, nil), "unexpected { after the header object"},
		{"invalid UTF-8", rawFile("{\"\xff\":{}}", nil), "UTF-8"},
		{"offsets past end", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(1)), "run past the end of the data (4 bytes)"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32(3)), `tensor "b": data_offsets [4, 12] overlap tensor "a"`},
		{"same range twice", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), "overlap"},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32(3)), "gap of 4 bytes"},
		{"leading gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), "gap of 4 bytes after offset 0"},
		{"trailing bytes", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)), "trailing bytes"},
		{"data but no tensors", rawFile(`{}`, f32(1)), "trailing bytes"},
		{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), `tensor "a" appears twice`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "__metadata__ appears twice"},
		{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, f32(1)), "field dtype appears twice"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}}`, f32(1)), `unknown dtype "F128"`},
		{"lowercase dtype", rawFile(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), `unknown dtype "f32"`},
		{"dtype not a string", rawFile(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, f32(1)), "dtype must be a string, got number 4"},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, f32(1)), `unexpected field "x"`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32(1)), "missing dtype"},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), "missing shape"},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, f32(1)), "missing data_offsets"},
		{"entry not an object", rawFile(`{"a":[1,2]}`, nil), `tensor "a" must be an object, got a list`},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32(2)), "needs 12 bytes but data_offsets [0, 8] span 8"},
		{"bf16 size mismatch", rawFile(`{"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}}`, f32(4)), "needs 8 bytes"},
		{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)), "-1 is not a non-negative 64-bit integer"},
		{"fractional dimension", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32(1)), "1.5 is not a non-negative"},
		{"exponent dimension", rawFile(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, f32(1)), "1e0 is not a non-negative"},
		{"huge dimension", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, f32(1)), "not a non-negative 64-bit integer"},
		{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, f32(1)), "too large"},
		{"shape overflow by dtype size", rawFile(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}}`, f32(1)), "too large"},
		{"shape not a list", rawFile(`{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}`, f32(1)), "shape must be a list"},
		{"nested shape", rawFile(`{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}`, f32(1)), "shape must be a list of non-negative integers, got a list"},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}`, f32(1)), "must be [begin, end], got 3"},
		{"reversed offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, f32(1)), "end before they begin"},
		{"metadata value not a string", rawFile(`{"__metadata__":{"k":1}}`, nil), `__metadata__["k"] must be a string, got number 1`},
		{"metadata not an object", rawFile(`{"__metadata__":["k"]}`, nil), "__metadata__ must be an object of strings, got a list"},
		{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"a","k":"b"}}`, nil), `key "k" appears twice`},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, dir, fmt.Sprintf("case%02d.safetensors", i), tc.content)
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q lacks %q", msg, tc.want)
			}
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error %q does not start with the file path", msg)
			}
		})
	}
}

func TestOpenAcceptsEdgeCases(t *testing.T) {
	tests := []struct {
		name      string
		content   []byte
		wantNames []string
		wantMeta  map[string]string
	}{
		{"empty header", rawFile(`{}`, nil), nil, nil},
		{"padded header", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}       `, []byte{7}), []string{"a"}, nil},
		{"null metadata", rawFile(`{"__metadata__":null}`, nil), nil, nil},
		{"metadata", rawFile(`{"__metadata__":{"format":"pt","x":"<&>"}}`, nil), nil, map[string]string{"format": "pt", "x": "<&>"}},
		{"zero-element tensors share an offset", rawFile(`{"z":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"BF16","shape":[3,0],"data_offsets":[4,4]}}`, make([]byte, 4)), []string{"a", "y", "z"}, nil},
		{"scalar", rawFile(`{"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)), []string{"s"}, nil},
		{"header order differs from data order", rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2}), []string{"a", "b"}, nil},
		{"unicode name", rawFile(`{"ü\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), []string{"üé"}, nil},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustOpen(t, Open, writeTemp(t, dir, fmt.Sprintf("case%02d.safetensors", i), tc.content))
			names := f.Names()
			if len(names) != len(tc.wantNames) || (len(names) > 0 && strings.Join(names, ",") != strings.Join(tc.wantNames, ",")) {
				t.Errorf("names %q, want %q", names, tc.wantNames)
			}
			md := f.Metadata()
			if len(md) != len(tc.wantMeta) {
				t.Errorf("metadata %v, want %v", md, tc.wantMeta)
			}
			for k, v := range tc.wantMeta {
				if md[k] != v {
					t.Errorf("metadata[%q] = %q, want %q", k, md[k], v)
				}
			}
		})
	}
}

func TestByteOffsetsAndBytes(t *testing.T) {
	data := []byte{10, 11, 12, 13, 14, 15}
	path := writeTemp(t, t.TempDir(), "x.safetensors",
		rawFile(`{"b":{"dtype":"U8","shape":[2,2],"data_offsets":[2,6]},"a":{"dtype":"I16","shape":[1],"data_offsets":[0,2]}}`, data))
	f := mustOpen(t, Open, path)
	info, ok := f.Info("b")
	if !ok || info.Begin != 2 || info.End != 6 || info.DType != U8 || len(info.Shape) != 2 || info.NumElements() != 4 {
		t.Fatalf("Info(b) = %+v, %v", info, ok)
	}
	b, err := f.Bytes("b")
	if err != nil || !bytes.Equal(b, data[2:]) {
		t.Fatalf("Bytes(b) = %v, %v; want %v", b, err, data[2:])
	}
	if _, err := f.Bytes("nope"); err == nil || !strings.Contains(err.Error(), `no tensor named "nope"`) {
		t.Errorf("Bytes(nope) error = %v", err)
	}
	if f.DataSize() != 6 {
		t.Errorf("DataSize = %d, want 6", f.DataSize())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bytes("a"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Bytes after Close: error = %v, want closed", err)
	}
}

func TestOpenNonFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("Open(folder) error = %v", err)
	}
	missing := dir + "/missing.safetensors"
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing) error = %v, want the path in it", err)
	}
}
