package sample

import (
	"image"
	"image/color"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// TestPrepareReference: the output sizes of Black Forest Labs'
// default_prep (sizes computed with its cap_pixels formula in Python) and
// its refusals.
func TestPrepareReference(t *testing.T) {
	tests := []struct {
		w, h, count, multiple int
		wantW, wantH          int
		err                   string
	}{
		{64, 64, 1, 16, 64, 64, ""},
		{100, 70, 2, 16, 96, 64, ""},
		{96, 64, 2, 4, 96, 64, ""},
		{3000, 2000, 1, 16, 2464, 1648, ""}, // capped to 2024²: 2478×1652
		{3000, 2000, 2, 16, 1248, 832, ""},  // capped to 1024²: 1254×836
		{1000, 2000, 3, 16, 720, 1440, ""},  // 724×1448
		{63, 100, 1, 16, 0, 0, "reference 0 is 63x100: both sides must be at least 64 pixels"},
		{600, 70, 1, 16, 0, 0, "reference 0 is 600x70: the aspect ratio must be at most 8:1"},
	}
	for _, tc := range tests {
		img := image.NewRGBA(image.Rect(5, 7, 5+tc.w, 7+tc.h))
		got, err := PrepareReference(img, 0, tc.count, tc.multiple)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%dx%d: error %v, want %q", tc.w, tc.h, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%dx%d: %v", tc.w, tc.h, err)
		}
		if b := got.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
			t.Errorf("%dx%d (%d refs, multiple %d): %dx%d, want %dx%d", tc.w, tc.h, tc.count, tc.multiple, b.Dx(), b.Dy(), tc.wantW, tc.wantH)
		}
	}
}

// TestPrepareReferenceCrop: the crop is centred with its origin rounded down
// (center_crop_to_multiple_of_x) and alpha is dropped, colours kept.
func TestPrepareReferenceCrop(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 67, 70)) // crop 64×64 from (1, 3)
	for y := 0; y < 70; y++ {
		for x := 0; x < 67; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 9, 10})
		}
	}
	got, err := PrepareReference(img, 0, 1, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{0, 0}, {63, 63}, {10, 20}} {
		want := color.NRGBA{uint8(p[0] + 1), uint8(p[1] + 3), 9, 255}
		if c := got.NRGBAAt(p[0], p[1]); c != want {
			t.Errorf("pixel %v = %v, want %v", p, c, want)
		}
	}
}

// TestDiffusersReferencesSample (tools/reference/flux2_refs.py): the two
// reference PNGs encoded by the tiny VAE give Flux2Pipeline's reference
// tokens and ids, and the 3-step sample with them matches Flux2Pipeline
// (dev-like, guidance embedded) and Flux2KleinPipeline (klein-like, CFG with
// a negative embedding) from the same initial latents and embeddings.
func TestDiffusersReferencesSample(t *testing.T) {
	root := filepath.Join("..", "testdata", "diffusers")
	dir := filepath.Join(root, "flux2-tiny-refs")
	enc, err := bundle.LoadVAE(testutil.Backend(t), filepath.Join(root, "flux2-tiny-vae", "vae"), vae.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refImgs := []image.Image{testutil.DecodePNGFile(t, filepath.Join(dir, "ref0.png")), testutil.DecodePNGFile(t, filepath.Join(dir, "ref1.png"))}
	want := weightstest.ReadAllF32(t, filepath.Join(dir, "refs.safetensors"))
	for _, tc := range []struct {
		name     string
		guidance float64
		cfg      bool
	}{{"dev", 3.5, false}, {"klein", 2.0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := flux2.Load(testutil.Backend(t), filepath.Join(root, "flux2-tiny-"+tc.name), flux2.LoadOptions{DType: dtypes.Float32})
			if err != nil {
				t.Fatal(err)
			}
			s := &Sampler{Model: m, Encoder: enc, PixelsPerLatent: 4}
			refs, err := s.References(refImgs)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CheckRelL2(t, "reference tokens vs diffusers", refs.Tokens, tensors.MustCopyFlatData[float32](want["ref_tokens"]), 1e-4)
			if !reflect.DeepEqual(refs.IDs, testutil.PositionIDs(want["ref_ids"])[0]) {
				t.Error("reference ids differ from diffusers'")
			}
			io := weightstest.ReadAllF32(t, filepath.Join(dir, tc.name+".safetensors"))
			const c, h, w = 16, 8, 12
			x := tensors.FromFlatDataAndDimensions(flux2.PackTokens(tensors.MustCopyFlatData[float32](io["sample_noise"]), c, h, w), 1, h*w, c)
			ctx := io["sample_ctx"]
			if tc.cfg {
				ctx = concatBatch(t, io["sample_negative"], ctx)
			}
			req := Request{Steps: 3, Guidance: tc.guidance, CFG: tc.cfg, Width: 48, Height: 32, References: refImgs}
			steps := 0
			s.OnStep = func(int, int) { steps++ }
			out, err := s.Denoise(x, ctx, h, w, req)
			if err != nil {
				t.Fatal(err)
			}
			if steps != 3 {
				t.Errorf("%d steps, want 3", steps)
			}
			testutil.CheckRelL2Tensors(t, "sample with references vs diffusers", out, io["sample_out"], 1e-4)
			if tc.cfg {
				return
			}
			// The references matter: without them the sample is far off.
			req.References = nil
			plain, err := s.Denoise(x, ctx, h, w, req)
			if err != nil {
				t.Fatal(err)
			}
			if e := testutil.RelL2Tensors(t, plain, io["sample_out"]); e < 1e-2 {
				t.Errorf("sample without references is within %.3g of the one with them", e)
			}
		})
	}
}

// concatBatch stacks [1, L, D] tensors into [n, L, D].
func concatBatch(t *testing.T, ts ...*tensors.Tensor) *tensors.Tensor {
	t.Helper()
	var flat []float32
	for _, x := range ts {
		flat = append(flat, tensors.MustCopyFlatData[float32](x)...)
	}
	d := ts[0].Shape().Dimensions
	return tensors.FromFlatDataAndDimensions(flat, len(ts), d[1], d[2])
}

// TestReferencesNeedEncoder: references without an encoder are refused
// with the reason.
func TestReferencesNeedEncoder(t *testing.T) {
	s := &Sampler{}
	_, err := s.References([]image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))})
	if err == nil || !strings.Contains(err.Error(), "no image encoder") {
		t.Errorf("error %v, want a missing-encoder error", err)
	}
}
