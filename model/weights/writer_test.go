package weights

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileHeaderAndAlignment(t *testing.T) {
	dir := t.TempDir()
	for n := range 9 { // name lengths covering every padding amount
		path := filepath.Join(dir, "pad.safetensors")
		name := strings.Repeat("n", n+1)
		mustWriteFile(t, path, []TensorData{Float32Data(name, []int{1}, []float32{1})}, nil)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		hlen := binary.LittleEndian.Uint64(raw)
		if (8+hlen)%8 != 0 {
			t.Errorf("name %q: data starts at %d, not 8-byte aligned", name, 8+hlen)
		}
		if !bytes.HasPrefix(raw[8:], []byte(`{"`+name+`":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`)) {
			t.Errorf("header %q", raw[8:8+hlen])
		}
		if rest := bytes.TrimRight(raw[8:8+hlen], " "); !bytes.HasSuffix(rest, []byte("}")) {
			t.Errorf("padding is not spaces: %q", raw[8:8+hlen])
		}
	}
}

func TestWriteFileRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		ts   []TensorData
		want string
	}{
		{"duplicate", []TensorData{Float32Data("a", []int{1}, []float32{1}), Float32Data("a", []int{1}, []float32{2})}, `tensor "a" is listed twice`},
		{"empty name", []TensorData{Float32Data("", []int{1}, []float32{1})}, "empty name"},
		{"reserved name", []TensorData{Float32Data("__metadata__", []int{1}, []float32{1})}, "reserved"},
		{"size mismatch", []TensorData{Float32Data("a", []int{2}, []float32{1})}, "needs 8 bytes, got 4"},
		{"unknown dtype", []TensorData{{Name: "a", DType: "F12", Shape: []int{1}, Data: []byte{0}}}, `unknown dtype "F12"`},
		{"negative dim", []TensorData{{Name: "a", DType: U8, Shape: []int{-1}}}, "negative dimension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.safetensors")
			err := WriteFile(path, tc.ts, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error = %v, want %q and the path", err, tc.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("a failed write left %s behind", path)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriterStreaming(t *testing.T) {
	dir := t.TempDir()
	values := make([]float32, 1000)
	for i := range values {
		values[i] = float32(i) * 0.37
	}
	a := Float32Data("a", []int{10, 100}, values)
	e := Float32Data("empty", []int{0}, nil)
	b, _ := Float32DataAs("b", BF16, []int{1000}, values)
	c := TensorData{Name: "c", DType: U8, Shape: []int{3}, Data: []byte{1, 2, 3}}
	all := []TensorData{a, e, b, c}
	want := filepath.Join(dir, "want.safetensors")
	mustWriteFile(t, want, all, map[string]string{"k": "v"})
	wantBytes, _ := os.ReadFile(want)
	specs := []TensorSpec{a.Spec(), e.Spec(), b.Spec(), c.Spec()}

	// streamed writes name through a Writer with write and checks that the
	// file equals WriteFile's.
	streamed := func(t *testing.T, name string, write func(w *Writer)) {
		t.Helper()
		path := filepath.Join(dir, name)
		w, err := NewWriter(path, specs, map[string]string{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		write(w)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, wantBytes) {
			t.Errorf("%s differs from WriteFile's", name)
		}
	}
	t.Run("odd-sized raw chunks", func(t *testing.T) {
		streamed(t, "raw.safetensors", func(w *Writer) {
			stream := append(append(append([]byte{}, a.Data...), b.Data...), c.Data...)
			for len(stream) > 0 {
				n := min(len(stream), 77)
				if _, err := w.Write(stream[:n]); err != nil {
					t.Fatal(err)
				}
				stream = stream[n:]
			}
		})
	})
	t.Run("float32 chunks converted per tensor", func(t *testing.T) {
		streamed(t, "f32.safetensors", func(w *Writer) {
			for _, chunk := range [][]float32{values[:333], values[333:]} {
				if err := w.WriteFloat32s(chunk); err != nil {
					t.Fatal(err)
				}
			}
			if s, _ := w.Next(); s.Name != "empty" {
				t.Errorf("Next = %q, want the empty tensor", s.Name)
			}
			for _, chunk := range [][]float32{values[:500], values[500:]} {
				if err := w.WriteFloat32s(chunk); err != nil { // skips "empty", encodes as BF16
					t.Fatal(err)
				}
			}
			if err := w.WriteFloat32s([]float32{1}); err == nil || !strings.Contains(err.Error(), "not a float dtype") {
				t.Errorf("WriteFloat32s into U8: %v", err)
			}
			if err := w.WriteTensor("c", c.Data); err != nil {
				t.Fatal(err)
			}
			if _, ok := w.Next(); ok {
				t.Error("Next reports more tensors after the last")
			}
		})
	})
	t.Run("errors", func(t *testing.T) {
		path := filepath.Join(dir, "bad.safetensors")
		cases := []struct {
			name string
			run  func(w *Writer) error
			want string
		}{
			{"missing data", func(w *Writer) error { return w.WriteTensor("a", a.Data) }, `data of tensor "b" (and any after it) is missing`},
			{"wrong order", func(w *Writer) error { return w.WriteTensor("b", b.Data) }, `got tensor "b" but the next one in the header is "a"`},
			{"too much data", func(w *Writer) error {
				_, err := w.Write(make([]byte, len(wantBytes)))
				return err
			}, "beyond the last tensor"},
			{"too many values", func(w *Writer) error { return w.WriteFloat32s(make([]float32, 1001)) }, "has 1000 elements left, got 1001"},
			{"partial tensor then WriteTensor", func(w *Writer) error {
				if _, err := w.Write(a.Data[:4]); err != nil {
					return err
				}
				return w.WriteTensor("a", a.Data)
			}, "already partly written"},
		}
		for _, tc := range cases {
			w, err := NewWriter(path, specs, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.run(w)
			if err == nil {
				err = w.Commit()
			} else {
				w.Abort()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s: failed write left %s", tc.name, path)
			}
		}
	})
	t.Run("failed write keeps the previous file", func(t *testing.T) {
		w, err := NewWriter(want, specs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTensor("a", a.Data); err != nil {
			t.Fatal(err)
		}
		w.Abort()
		got, _ := os.ReadFile(want)
		if !bytes.Equal(got, wantBytes) {
			t.Error("aborted write changed the existing file")
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
	})
}
