package textenc

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights"
)

// rampTensor is a [dims] float32 tensor holding 0, 1, 2, … so rows are
// recognisable.
func rampTensor(dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func TestTableRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "table.safetensors")
	prompts := []string{"a red circle", "", "a blue star"}
	if err := WriteTable(path, prompts, rampTensor(3, 2, 4), rampTensor(1, 2, 4)); err != nil {
		t.Fatal(err)
	}
	tab, err := OpenTable(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tab.Prompts, prompts) || tab.Len() != 3 || tab.MaxLen() != 2 || tab.Negative == nil {
		t.Fatalf("table = %v, %d rows of %d tokens, negative %v", tab.Prompts, tab.Len(), tab.MaxLen(), tab.Negative)
	}
	got, err := tab.Encode([]string{"a blue star", "", "a blue star"})
	if err != nil {
		t.Fatal(err)
	}
	// Rows 2, 1, 2 of the ramp: each row holds 8 consecutive values.
	var want []float32
	for _, r := range []int{2, 1, 2} {
		for k := range 8 {
			want = append(want, float32(8*r+k))
		}
	}
	if d := got.Shape().Dimensions; !slices.Equal(d, []int{3, 2, 4}) {
		t.Fatalf("Encode shape %v", d)
	}
	if !slices.Equal(tensors.MustCopyFlatData[float32](got), want) {
		t.Errorf("Encode = %v, want %v", tensors.MustCopyFlatData[float32](got), want)
	}
	if row := tensors.MustCopyFlatData[float32](tab.Row(1)); !slices.Equal(row, want[8:16]) {
		t.Errorf("Row(1) = %v", row)
	}
	other := filepath.Join(t.TempDir(), "other.safetensors")
	if err := WriteTable(other, prompts, rampTensor(3, 2, 4), nil); err != nil {
		t.Fatal(err)
	}
	tab2, err := OpenTable(other, 4)
	if err != nil {
		t.Fatal(err)
	}
	if tab2.Identity() == tab.Identity() || tab2.Negative != nil {
		t.Errorf("tables with different content share identity %q (negative %v)", tab.Identity(), tab2.Negative)
	}
}

func TestTableErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ts []weights.TensorData, meta map[string]string) string {
		path := filepath.Join(dir, name)
		if err := weights.WriteFile(path, ts, meta); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ctx := weights.Float32Data(TableContext, []int{2, 2, 4}, make([]float32, 16))
	tests := []struct {
		name, path string
		dim        int
		want       string
	}{
		{"no ctx", write("none.safetensors", []weights.TensorData{weights.Float32Data("x", []int{1}, []float32{0})}, nil), 4, `"ctx" tensor [N, L, D]`},
		{"wrong width", write("w.safetensors", []weights.TensorData{ctx}, nil), 40, "want [N, L, 40] for this model"},
		{"prompt count", write("c.safetensors", []weights.TensorData{ctx}, map[string]string{TablePrompts: `["a"]`}), 4, "lists 1 prompts for 2 rows"},
		{"duplicate", write("d.safetensors", []weights.TensorData{ctx}, map[string]string{TablePrompts: `["a","a"]`}), 4, `prompt "a" is listed twice`},
		{"bad json", write("j.safetensors", []weights.TensorData{ctx}, map[string]string{TablePrompts: `a,b`}), 4, "must be a JSON array of strings"},
		{"negative shape", write("n.safetensors", []weights.TensorData{ctx, weights.Float32Data(TableNegative, []int{2, 2, 4}, make([]float32, 16))}, nil), 4, "want [1 2 4]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenTable(tc.path, tc.dim)
			if err == nil {
				t.Fatal("OpenTable succeeded")
			}
			testutil.CheckContains(t, "error", err.Error(), tc.path, tc.want)
		})
	}

	unnamed, err := OpenTable(write("u.safetensors", []weights.TensorData{ctx}, nil), 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unnamed.Encode([]string{"a"}); err == nil {
		t.Error("Encode on a table without prompts succeeded")
	} else {
		testutil.CheckContains(t, "error", err.Error(), `no "prompts" metadata`)
	}
	named, err := OpenTable(write("p.safetensors", []weights.TensorData{ctx}, map[string]string{TablePrompts: `["a","b"]`}), 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := named.Encode([]string{"a", "flora style", ""}); err == nil {
		t.Error("Encode of missing prompts succeeded")
	} else {
		testutil.CheckContains(t, "error", err.Error(), `lacks "flora style", ""`, "the empty caption when caption_dropout > 0")
	}
}
