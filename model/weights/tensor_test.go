package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/tensorload"
)

// File and Checkpoint are the sources the model loaders read.
var (
	_ tensorload.Source = (*File)(nil)
	_ tensorload.Source = (*Checkpoint)(nil)
)

// tensorBytes returns a copy of a GoMLX tensor's raw data.
func tensorBytes(t *testing.T, x *tensors.Tensor) []byte {
	t.Helper()
	if x.Size() == 0 {
		return nil
	}
	var out []byte
	if err := x.ConstBytes(func(b []byte) { out = bytes.Clone(b) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func tensorFloat32s(t *testing.T, x *tensors.Tensor) []float32 {
	t.Helper()
	if x.DType() != dtypes.Float32 {
		t.Fatalf("tensor dtype %s, want float32", x.DType())
	}
	var out []float32
	if x.Size() == 0 {
		return out
	}
	tensors.MustConstFlatData(x, func(flat []float32) { out = slices.Clone(flat) })
	return out
}

// uint16s decodes little-endian 16-bit codes.
func uint16s(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

func TestRoundTripEveryDType(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	var ts []TensorData
	for _, dt := range allDTypes() {
		for _, shape := range [][]int{{2, 3}, {}, {0, 4}} {
			n, _ := byteSize(dt, shape)
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(rng.UintN(256))
				if dt == Bool {
					data[i] &= 1
				}
			}
			name := fmt.Sprintf("%s/%v", dt, shape)
			ts = append(ts, TensorData{Name: name, DType: dt, Shape: shape, Data: data})
		}
	}
	path := filepath.Join(dir, "all.safetensors")
	md := map[string]string{"format": "pt", "quote\"and\\slash": "line\nbreak <html>"}
	mustWriteFile(t, path, ts, md)
	f := mustOpen(t, Open, path)
	if got := f.Metadata(); len(got) != 2 || got["format"] != "pt" || got["quote\"and\\slash"] != "line\nbreak <html>" {
		t.Errorf("metadata = %v", got)
	}
	if len(f.Names()) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(f.Names()), len(ts))
	}
	for _, td := range ts {
		info, ok := f.Info(td.Name)
		if !ok || info.DType != td.DType || !slices.Equal(info.Shape, td.Shape) {
			t.Fatalf("Info(%s) = %+v, %v", td.Name, info, ok)
		}
		b, err := f.Bytes(td.Name)
		if err != nil || !bytes.Equal(b, td.Data) {
			t.Fatalf("Bytes(%s) differ: %v", td.Name, err)
		}
		x, err := f.Tensor(td.Name)
		if err != nil {
			t.Fatalf("Tensor(%s): %v", td.Name, err)
		}
		if x.DType() != td.DType.GoMLX() || !slices.Equal(x.Shape().Dimensions, td.Shape) {
			t.Fatalf("Tensor(%s) shape %s, want %s %v", td.Name, x.Shape(), td.DType.GoMLX(), td.Shape)
		}
		if got := tensorBytes(t, x); !bytes.Equal(got, td.Data) {
			t.Fatalf("Tensor(%s) data differ", td.Name)
		}
		if td.DType == F8E4M3 || td.DType == F8E5M2 {
			continue // no GoMLX float8 dtype: FromTensor would write U8
		}
		back, err := FromTensor(td.Name, x)
		if err != nil || back.DType != td.DType || !bytes.Equal(back.Data, td.Data) || !slices.Equal(back.Shape, td.Shape) {
			t.Fatalf("FromTensor(%s) = %+v, %v", td.Name, back.Spec(), err)
		}
	}
}

func TestTensorAsConversions(t *testing.T) {
	// Values exactly representable in every float format, including e4m3/e5m2.
	values := []float32{0, 1, -2, 0.5, 3, -0.25, 96, 1.5}
	var ts []TensorData
	for _, dt := range []DType{F64, F32, F16, BF16, F8E4M3, F8E5M2} {
		td, err := Float32DataAs("v_"+string(dt), dt, []int{2, 4}, values)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, td)
	}
	ints := []int64{0, 1, -2, 7, -5, 100, 3, -1}
	i64 := make([]byte, 0, 64)
	for _, v := range ints {
		i64 = binary.LittleEndian.AppendUint64(i64, uint64(v))
	}
	ts = append(ts,
		TensorData{Name: "i64", DType: I64, Shape: []int{8}, Data: i64},
		TensorData{Name: "bool", DType: Bool, Shape: []int{3}, Data: []byte{1, 0, 1}},
		Float32Data("ties", []int{3}, []float32{1 + 1.0/256, 1 + 3.0/256, 3.14159265}),
		Float32Data("empty", []int{0, 3}, nil),
		Float32Data("scalar", nil, []float32{2.5}),
	)
	path := filepath.Join(t.TempDir(), "conv.safetensors")
	mustWriteFile(t, path, ts, nil)
	f := mustOpen(t, Open, path)

	for _, dt := range []DType{F64, F32, F16, BF16, F8E4M3, F8E5M2} {
		name := "v_" + string(dt)
		x, err := f.TensorAs(name, dtypes.Float32)
		if err != nil {
			t.Fatalf("TensorAs(%s, f32): %v", name, err)
		}
		if got := tensorFloat32s(t, x); !slices.Equal(got, values) || !slices.Equal(x.Shape().Dimensions, []int{2, 4}) {
			t.Errorf("TensorAs(%s, f32) = %v %v, want %v", name, x.Shape(), got, values)
		}
		x64, err := f.TensorAs(name, dtypes.Float64)
		if err != nil {
			t.Fatal(err)
		}
		tensors.MustConstFlatData(x64, func(flat []float64) {
			for i, v := range flat {
				if v != float64(values[i]) {
					t.Errorf("TensorAs(%s, f64)[%d] = %v, want %v", name, i, v, values[i])
				}
			}
		})
		for _, target := range []dtypes.DType{dtypes.BFloat16, dtypes.Float16} {
			y, err := f.TensorAs(name, target)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range uint16s(tensorBytes(t, y)) {
				got := BF16ToFloat32(c)
				if target == dtypes.Float16 {
					got = F16ToFloat32(c)
				}
				if got != values[i] {
					t.Errorf("TensorAs(%s, %s)[%d] = %v, want %v", name, target, i, got, values[i])
				}
			}
		}
	}
	// Native float8 comes back as raw codes.
	x, err := f.Tensor("v_F8_E4M3")
	if err != nil || x.DType() != dtypes.Uint8 {
		t.Fatalf("Tensor(f8) = %v, %v; want uint8 codes", x, err)
	}
	for i, c := range tensorBytes(t, x) {
		if c != Float32ToF8E4M3(values[i]) {
			t.Errorf("f8 code %d = %#x, want %#x", i, c, Float32ToF8E4M3(values[i]))
		}
	}
	// Integers and bools convert to float.
	xi, err := f.TensorAs("i64", dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tensorFloat32s(t, xi) {
		if v != float32(ints[i]) {
			t.Errorf("i64→f32[%d] = %v, want %d", i, v, ints[i])
		}
	}
	xb, err := f.TensorAs("bool", dtypes.Float32)
	if err != nil || !slices.Equal(tensorFloat32s(t, xb), []float32{1, 0, 1}) {
		t.Errorf("bool→f32 = %v, %v", xb, err)
	}
	// Float32 → bfloat16 rounds to nearest even (GoMLX's FromFloat32 truncates).
	xt, err := f.TensorAs("ties", dtypes.BFloat16)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := uint16s(tensorBytes(t, xt)), []uint16{0x3F80, 0x3F82, 0x4049}; !slices.Equal(got, want) {
		t.Errorf("f32→bf16 ties = %#x, want %#x", got, want)
	}
	// Empty and scalar tensors.
	xe, err := f.TensorAs("empty", dtypes.BFloat16)
	if err != nil || xe.Size() != 0 || !slices.Equal(xe.Shape().Dimensions, []int{0, 3}) {
		t.Errorf("empty → %v, %v", xe, err)
	}
	xs, err := f.TensorAs("scalar", dtypes.Float32)
	if err != nil || xs.Shape().Rank() != 0 || tensorFloat32s(t, xs)[0] != 2.5 {
		t.Errorf("scalar → %v, %v", xs, err)
	}
	// Unsupported conversions name the file and tensor.
	_, err = f.TensorAs("v_F32", dtypes.Int32)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"v_F32"`) {
		t.Errorf("f32→int32 error = %v", err)
	}
	if _, err := f.TensorAs("nope", dtypes.Float32); err == nil || !strings.Contains(err.Error(), `no tensor named "nope"`) {
		t.Errorf("missing tensor error = %v", err)
	}
}

func TestLargeConversionsMatchScalar(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // exercise the parallel path even on 1-2 cores
	rng := rand.New(rand.NewPCG(5, 6))
	n := parallelMinElems*2 + 12345
	values := make([]float32, n)
	for i := range values {
		values[i] = float32(rng.NormFloat64() * 3)
	}
	bf, err := Float32DataAs("bf", BF16, []int{n}, values)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	mustWriteFile(t, path, []TensorData{Float32Data("f", []int{n}, values), bf}, nil)
	f := mustOpen(t, Open, path)

	x, err := f.TensorAs("f", dtypes.BFloat16)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range uint16s(tensorBytes(t, x)) {
		if want := Float32ToBF16(values[i]); c != want {
			t.Fatalf("f32→bf16[%d] = %#x, want %#x", i, c, want)
		}
	}
	y, err := f.TensorAs("bf", dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tensorFloat32s(t, y) {
		if want := BF16ToFloat32(Float32ToBF16(values[i])); v != want {
			t.Fatalf("bf16→f32[%d] = %v, want %v", i, v, want)
		}
	}
	raw, _ := f.Bytes("bf")
	dec, err := DecodeFloat32(TensorInfo{Name: "bf", DType: BF16, Shape: []int{n}}, raw)
	if err != nil || !slices.Equal(dec, tensorFloat32s(t, y)) {
		t.Errorf("DecodeFloat32 disagrees with TensorAs: %v", err)
	}
}

func TestDecodeEncodeFloat32Errors(t *testing.T) {
	if _, err := DecodeFloat32(TensorInfo{Name: "x", DType: F32, Shape: []int{3}}, make([]byte, 8)); err == nil {
		t.Error("DecodeFloat32 accepted 8 bytes for 3 float32")
	}
	if _, err := DecodeFloat32(TensorInfo{Name: "x", DType: "F7", Shape: []int{1}}, make([]byte, 1)); err == nil {
		t.Error("DecodeFloat32 accepted an unknown dtype")
	}
	if _, err := EncodeFloat32(I32, []float32{1}); err == nil {
		t.Error("EncodeFloat32 accepted an integer dtype")
	}
	if got, _ := EncodeFloat32(F8E4M3, []float32{1000, -1, float32(math.Inf(-1))}); !bytes.Equal(got, []byte{0x7E, 0xB8, 0xFE}) {
		t.Errorf("EncodeFloat32(e4m3) = %#x", got)
	}
}
