package weightstest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/flora-ml/flora/model/weights"
)

// Open opens a safetensors file for the rest of the test: it is closed when
// the test ends, and an error fails the test.
func Open(tb testing.TB, path string) *weights.File {
	tb.Helper()
	f, err := weights.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// CheckSameStored checks that the safetensors files a and b hold the same
// tensors with the same dtypes, shapes and stored bytes; names that skip
// selects (nil: none) are not compared.
func CheckSameStored(tb testing.TB, a, b string, skip func(name string) bool) {
	tb.Helper()
	x, y := Open(tb, a), Open(tb, b)
	if len(x.Names()) != len(y.Names()) {
		tb.Fatalf("%s has %d tensors, %s has %d", b, len(y.Names()), a, len(x.Names()))
	}
	for _, n := range x.Names() {
		if skip != nil && skip(n) {
			continue
		}
		xi, _ := x.Info(n)
		yi, ok := y.Info(n)
		if !ok {
			tb.Fatalf("%s missing from %s", n, b)
		}
		if xi.DType != yi.DType || !slices.Equal(xi.Shape, yi.Shape) {
			tb.Errorf("%s: %s%v in %s, %s%v in %s", n, yi.DType, yi.Shape, b, xi.DType, xi.Shape, a)
		}
		xb, err1 := x.Bytes(n)
		yb, err2 := y.Bytes(n)
		if err1 != nil || err2 != nil || !bytes.Equal(xb, yb) {
			tb.Errorf("%s: stored bytes differ (%v %v)", n, err1, err2)
		}
	}
}

// WriteAs writes every tensor of the safetensors file src to dst, stored in
// the float dtype dtypeOf gives for its name, with the header metadata meta
// (nil: none). It is how tests make bf16 or float32 copies of fixtures.
func WriteAs(tb testing.TB, src, dst string, dtypeOf func(name string) weights.DType, meta map[string]string) {
	tb.Helper()
	f := Open(tb, src)
	vals := ReadAllF32Flat(tb, src)
	var ts []weights.TensorData
	for _, n := range f.Names() {
		dims, _ := f.Dims(n)
		td, err := weights.Float32DataAs(n, dtypeOf(n), dims, vals[n])
		if err != nil {
			tb.Fatal(err)
		}
		ts = append(ts, td)
	}
	if err := weights.WriteFile(dst, ts, meta); err != nil {
		tb.Fatal(err)
	}
}
