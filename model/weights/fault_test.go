package weights

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestTruncatedWhileMapped: a file truncated after it was opened (another
// program rewriting it) makes reads of the lost pages fail with an error
// naming the file — serial copies, conversions on all cores, DecodeFloat32
// of a Bytes view — instead of crashing with SIGBUS; data still in the file
// reads normally, and the goroutine's SetPanicOnFault setting is restored.
func TestTruncatedWhileMapped(t *testing.T) {
	const n = 1 << 20 // bf16 elements: 2 MiB, above parallelMinElems
	big := make([]byte, 2*n)
	for i := range big {
		big[i] = byte(i)
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	mustWriteFile(t, path, []TensorData{
		{Name: "a_small", DType: F32, Shape: []int{2}, Data: []byte{0, 0, 128, 63, 0, 0, 0, 64}}, // 1, 2
		{Name: "b_big", DType: BF16, Shape: []int{n}, Data: big},
	}, nil)
	f := mustOpen(t, Open, path)
	info, _ := f.Info("b_big")
	small, _ := f.Info("a_small")
	if small.End > info.Begin {
		t.Fatalf("layout: a_small %d..%d, b_big from %d", small.Begin, small.End, info.Begin)
	}
	// Keep the header and a_small; b_big's pages after the first are gone.
	if err := os.Truncate(path, f.DataSize()-info.NumBytes()+int64(len(f.mapping)-len(f.data))+16); err != nil {
		t.Fatal(err)
	}
	debug.SetPanicOnFault(false)
	for _, dt := range []dtypes.DType{dtypes.BFloat16, dtypes.Float32, dtypes.Float64, dtypes.Float16} {
		_, err := f.TensorAs("b_big", dt)
		if err == nil || !errors.Is(err, ErrFileChanged) || !strings.HasPrefix(err.Error(), path+`: tensor "b_big": the file changed while it was being read`) {
			t.Errorf("TensorAs(%s) after truncation: %v", dt, err)
		}
	}
	raw, err := f.Bytes("b_big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeFloat32(info, raw); !errors.Is(err, ErrFileChanged) {
		t.Errorf("DecodeFloat32 of the truncated view: %v", err)
	}
	if prev := debug.SetPanicOnFault(false); prev {
		t.Error("SetPanicOnFault left on")
	}
	v, err := f.TensorAs("a_small", dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](v); got[0] != 1 || got[1] != 2 {
		t.Errorf("a_small = %v, want [1 2]", got)
	}
}

// TestCatchFaultPassesOtherPanics: only memory faults become errors; a bug's
// panic still panics.
func TestCatchFaultPassesOtherPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "bug" {
			t.Errorf("recovered %v, want the original panic", r)
		}
	}()
	_ = catchFault(func() { panic("bug") })
	t.Error("catchFault swallowed a panic")
}
