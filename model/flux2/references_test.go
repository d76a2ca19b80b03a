package flux2

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// TestReferencesLayout: tokens of each reference in PackTokens order, one
// reference after the other, ids (10 + 10k, r, c, 0); Append puts them
// after every batch element's target tokens; TargetTokens undoes it.
func TestReferencesLayout(t *testing.T) {
	// Reference 0: C=2, 1×2 grid; reference 1: C=2, 2×1 grid.
	l0 := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 1, 2, 1, 2)
	l1 := tensors.FromFlatDataAndDimensions([]float32{5, 6, 7, 8}, 2, 2, 1)
	r, err := NewReferences([]*tensors.Tensor{l0, l1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"tokens", r.Tokens, []float32{1, 3, 2, 4, 5, 7, 6, 8}},
		{"ids", r.IDs, [][4]float64{{10, 0, 0, 0}, {10, 0, 1, 0}, {20, 0, 0, 0}, {20, 1, 0, 0}}},
		{"sizes", r.Sizes, [][2]int{{1, 2}, {2, 1}}},
		{"len", r.Len(), 4},
		{"channels", r.Channels, 2},
	}
	for _, tc := range tests {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	x := tensors.FromFlatDataAndDimensions([]float32{-1, -2, -3, -4}, 2, 1, 2)
	xr, ids, err := r.Append(x, ImageIDs(2, 1, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if d := xr.Shape().Dimensions; !reflect.DeepEqual(d, []int{2, 5, 2}) {
		t.Fatalf("appended shape %v, want [2 5 2]", d)
	}
	wantX := []float32{-1, -2, 1, 3, 2, 4, 5, 7, 6, 8, -3, -4, 1, 3, 2, 4, 5, 7, 6, 8}
	if got := tensors.MustCopyFlatData[float32](xr); !reflect.DeepEqual(got, wantX) {
		t.Errorf("appended tokens %v, want %v", got, wantX)
	}
	if len(ids) != 2 || len(ids[1]) != 5 || ids[1][0] != [4]float64{} || ids[1][4] != [4]float64{20, 1, 0, 0} {
		t.Errorf("appended ids %v", ids)
	}
	back, err := TargetTokens(xr, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](back); !reflect.DeepEqual(got, []float32{-1, -2, -3, -4}) {
		t.Errorf("target tokens %v", got)
	}
	var none *References
	if same, sameIDs, err := none.Append(x, ImageIDs(2, 1, 1, 0)); err != nil || same != x || len(sameIDs[0]) != 1 {
		t.Errorf("nil references changed the input (%v)", err)
	}
}

// TestReferencesErrors: shapes that cannot be references say which one.
func TestReferencesErrors(t *testing.T) {
	c2 := tensors.FromFlatDataAndDimensions(make([]float32, 4), 2, 1, 2)
	c3 := tensors.FromFlatDataAndDimensions(make([]float32, 6), 3, 1, 2)
	r, _ := NewReferences([]*tensors.Tensor{c2})
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"none", func() error { _, err := NewReferences(nil); return err }, "no reference latents"},
		{"rank", func() error {
			_, err := NewReferences([]*tensors.Tensor{tensors.FromFlatDataAndDimensions(make([]float32, 4), 4)})
			return err
		}, "reference 0: latent shape [4]"},
		{"channels", func() error { _, err := NewReferences([]*tensors.Tensor{c2, c3}); return err }, "reference 1: latent has 3 channels, reference 0 has 2"},
		{"target channels", func() error {
			_, _, err := r.Append(tensors.FromFlatDataAndDimensions(make([]float32, 6), 1, 2, 3), ImageIDs(1, 1, 2, 0))
			return err
		}, "target tokens have shape [1 2 3], want [B, N, 2]"},
		{"ids", func() error {
			_, _, err := r.Append(tensors.FromFlatDataAndDimensions(make([]float32, 4), 1, 2, 2), ImageIDs(1, 1, 1, 0))
			return err
		}, "1 image ids for 2 tokens"},
		{"slice", func() error { _, err := TargetTokens(c2, 3); return err }, "cannot hold 3 target tokens"},
	}
	for _, tc := range tests {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestDiffusersReferencesParity (tools/reference/flux2_refs.py): Flora's
// reference tokens and ids equal Flux2Pipeline.prepare_image_latents'
// exactly (the 64×64 and 96×64 references are 16×16 and 16×24 latent
// grids), and the transformer on target + references matches diffusers'
// output, all of it and the target slice, for the dev- and klein-like tiny
// models.
func TestDiffusersReferencesParity(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "diffusers")
	refs := weightstest.ReadAllF32(t, filepath.Join(root, "flux2-tiny-refs", "refs.safetensors"))
	tokens := tensors.MustCopyFlatData[float32](refs["ref_tokens"])
	const c = 16
	var latents []*tensors.Tensor
	off := 0
	for _, hw := range [][2]int{{16, 16}, {16, 24}} {
		n := hw[0] * hw[1] * c
		latents = append(latents, tensors.FromFlatDataAndDimensions(UnpackTokens(tokens[off:off+n], c, hw[0], hw[1]), c, hw[0], hw[1]))
		off += n
	}
	r, err := NewReferences(latents)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Tokens, tokens) {
		t.Error("reference tokens differ from diffusers'")
	}
	if want := testutil.PositionIDs(refs["ref_ids"])[0]; !reflect.DeepEqual(r.IDs, want) {
		t.Errorf("reference ids differ from diffusers': got %v… want %v…", r.IDs[250:260], want[250:260])
	}
	for _, name := range []string{"dev", "klein"} {
		t.Run(name, func(t *testing.T) {
			m, err := Load(testutil.Backend(t), filepath.Join(root, "flux2-tiny-"+name), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			io := weightstest.ReadAllF32(t, filepath.Join(root, "flux2-tiny-refs", name+".safetensors"))
			x, ids, err := r.Append(io["img"], ImageIDs(1, 8, 12, 0))
			if err != nil {
				t.Fatal(err)
			}
			if want := testutil.PositionIDs(io["img_ids"]); !reflect.DeepEqual(ids, want) {
				t.Fatal("target + reference ids differ from diffusers'")
			}
			b, err := m.NewBatch(x, io["ctx"], io["timesteps"], io["guidance"], testutil.PositionIDs(io["ctx_ids"]), ids)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Forward(b, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CheckRelL2Tensors(t, "forward with references vs diffusers", out, io["out"], 1e-4)
			got, err := TargetTokens(out, 96)
			if err != nil {
				t.Fatal(err)
			}
			want, err := TargetTokens(io["out"], 96)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CheckRelL2Tensors(t, "target velocity vs diffusers", got, want, 1e-4)
		})
	}
}
