package weights

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// benchFile writes a 256 MiB checkpoint of 64 BF16 [1024, 2048] tensors
// (4 MiB each) and returns its path and size. The file stays in the page
// cache, so the benchmarks measure warm reads.
func benchFile(b *testing.B) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	return path, writeBenchFile(b, path)
}

// writeBenchFile writes the benchmark checkpoint to path and returns its size.
func writeBenchFile(b *testing.B, path string) int64 {
	b.Helper()
	const tensorsN, rows, cols = 64, 1024, 2048
	specs := make([]TensorSpec, tensorsN)
	for i := range specs {
		specs[i] = TensorSpec{Name: fmt.Sprintf("blocks.%02d.weight", i), DType: BF16, Shape: []int{rows, cols}}
	}
	w, err := NewWriter(path, specs, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	chunk := make([]byte, rows*cols*2)
	for i := 0; i < len(chunk); i += 2 {
		binary.LittleEndian.PutUint16(chunk[i:], Float32ToBF16(float32(i%997)*0.01-5))
	}
	for _, s := range specs {
		if err := w.WriteTensor(s.Name, chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// sumBytes reads every byte of p (8 at a time) so the pages are really touched.
func sumBytes(p []byte) uint64 {
	var s uint64
	i := 0
	for ; i+8 <= len(p); i += 8 {
		s += binary.LittleEndian.Uint64(p[i:])
	}
	for ; i < len(p); i++ {
		s += uint64(p[i])
	}
	return s
}

var benchSink uint64

// BenchmarkReadSequentialFile is the baseline: a plain os.File read of the
// whole file through a 4 MiB buffer.
func BenchmarkReadSequentialFile(b *testing.B) {
	path, size := benchFile(b)
	buf := make([]byte, 4<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			n, err := f.Read(buf)
			benchSink += sumBytes(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	}
}

// BenchmarkReadMmapBytes opens the file and reads every tensor through Bytes.
func BenchmarkReadMmapBytes(b *testing.B) {
	benchEachTensor(b, func(f *File, name string) (uint64, error) {
		p, err := f.Bytes(name)
		return sumBytes(p), err
	})
}

// BenchmarkReadTensorNative copies every tensor into a BF16 GoMLX tensor.
func BenchmarkReadTensorNative(b *testing.B) {
	benchTensorAs(b, dtypes.BFloat16)
}

// BenchmarkReadTensorAsFloat32 converts every BF16 tensor to float32 while
// copying (SetBytes counts the file bytes, not the doubled output).
func BenchmarkReadTensorAsFloat32(b *testing.B) {
	benchTensorAs(b, dtypes.Float32)
}

func benchTensorAs(b *testing.B, dt dtypes.DType) {
	benchEachTensor(b, func(f *File, name string) (uint64, error) {
		x, err := f.TensorAs(name, dt)
		if err != nil {
			return 0, err
		}
		defer x.FinalizeAll()
		return uint64(x.Size()), nil
	})
}

// benchEachTensor opens the benchmark file once per iteration and reads
// every tensor with read, adding what it returns to benchSink.
func benchEachTensor(b *testing.B, read func(f *File, name string) (uint64, error)) {
	path, size := benchFile(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range f.Names() {
			v, err := read(f, name)
			if err != nil {
				b.Fatal(err)
			}
			benchSink += v
		}
		f.Close()
	}
}

// BenchmarkWriteStreaming writes the 256 MiB file with the streaming Writer
// (includes fsync).
func BenchmarkWriteStreaming(b *testing.B) {
	path, size := benchFile(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		writeBenchFile(b, path)
	}
}
