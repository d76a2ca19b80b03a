package testutil

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(f string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(f, args...))
}
func (r *recorder) Fatalf(f string, args ...any) { r.Errorf(f, args...) }

func TestRelL2(t *testing.T) {
	want := []float32{3, 4}
	if e := RelL2([]float32{3, 4}, want); e != 0 {
		t.Errorf("equal slices: %g", e)
	}
	if e := RelL2([]float32{3, 5}, want); math.Abs(e-0.2) > 1e-12 {
		t.Errorf("RelL2 = %g, want 0.2 (‖(0, 1)‖ / ‖(3, 4)‖)", e)
	}
}

func TestCheckRelL2(t *testing.T) {
	want := tensors.FromFlatDataAndDimensions([]float32{3, 4}, 2)
	for _, tc := range []struct {
		got  *tensors.Tensor
		tol  float64
		fail bool
	}{
		{tensors.FromFlatDataAndDimensions([]float32{3, 4}, 2), 0, false},
		{tensors.FromFlatDataAndDimensions([]float32{3, 5}, 2), 0.2, false},
		{tensors.FromFlatDataAndDimensions([]float32{3, 5}, 2), 0.19, true},
		{tensors.FromFlatDataAndDimensions([]float32{3, 4}, 1, 2), 1, true}, // shape
	} {
		r := &recorder{TB: t}
		CheckRelL2Tensors(r, "x", tc.got, want, tc.tol)
		if failed := len(r.errors) > 0; failed != tc.fail {
			t.Errorf("%v vs %v within %g: failures %q, want failing %v", tc.got, want, tc.tol, r.errors, tc.fail)
		}
	}
	r := &recorder{TB: t}
	CheckRelL2(r, "x", []float32{3}, []float32{3, 4}, 1)
	if len(r.errors) == 0 {
		t.Error("a length mismatch passed")
	}
}

func TestPositionIDs(t *testing.T) {
	ids := tensors.FromFlatDataAndDimensions([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 2, 2, 4)
	got := PositionIDs(ids)
	want := [][][4]float64{{{0, 1, 2, 3}, {4, 5, 6, 7}}, {{8, 9, 10, 11}, {12, 13, 14, 15}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PositionIDs = %v, want %v", got, want)
	}
}
