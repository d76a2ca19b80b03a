package testutil

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RelL2 is ‖got − want‖ / ‖want‖ over two equally long slices.
func RelL2(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

// RelL2Tensors is ‖got − want‖ / ‖want‖ of two float32 tensors; a shape
// mismatch fails the test.
func RelL2Tensors(tb testing.TB, got, want *tensors.Tensor) float64 {
	tb.Helper()
	if !got.Shape().Equal(want.Shape()) {
		tb.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
	}
	return RelL2(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want))
}

// CheckRelL2 logs the relative L2 error of got against want and fails the
// test when it exceeds tol; what names the compared output in both lines.
// A length mismatch fails the test.
func CheckRelL2(tb testing.TB, what string, got, want []float32, tol float64) float64 {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	e := RelL2(got, want)
	tb.Logf("%s relative L2 error: %.3g", what, e)
	if e > tol {
		tb.Errorf("%s relative L2 error %.3g > %.3g", what, e, tol)
	}
	return e
}

// CheckRelL2Tensors is CheckRelL2 for two float32 tensors of the same shape.
func CheckRelL2Tensors(tb testing.TB, what string, got, want *tensors.Tensor, tol float64) float64 {
	tb.Helper()
	if !got.Shape().Equal(want.Shape()) {
		tb.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	return CheckRelL2(tb, what, tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want), tol)
}

// PositionIDs converts a [B, L, 4] float32 tensor of position ids, as the
// reference fixtures store them, to the [B][L][4] form Batch takes.
func PositionIDs(t *tensors.Tensor) [][][4]float64 {
	dims := t.Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](t)
	out := make([][][4]float64, dims[0])
	for b := range out {
		out[b] = make([][4]float64, dims[1])
		for l := range out[b] {
			for k := 0; k < 4; k++ {
				out[b][l][k] = float64(flat[(b*dims[1]+l)*4+k])
			}
		}
	}
	return out
}
