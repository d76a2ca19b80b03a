package vae

import (
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// loadOfficialTiny loads the official tiny fixture autoencoder.
func loadOfficialTiny(t testing.TB, conv ConvAlgorithm) *VAE {
	t.Helper()
	dir := referenceDir(t)
	src := mapSource(readF32Safetensors(t.(*testing.T), filepath.Join(dir, "vae.safetensors")))
	v, err := Load(testutil.Backend(t), src, "vae.safetensors", Options{Conv: conv})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOfficialReferenceEncodeDecode checks encode (posterior mean, patchify,
// BatchNorm) and decode (inverse) against Black Forest Labs' implementation
// on the tiny fixture, with both convolution algorithms.
func TestOfficialReferenceEncodeDecode(t *testing.T) {
	dir := referenceDir(t)
	io := readF32Safetensors(t, filepath.Join(dir, "vae_io.safetensors"))
	for _, conv := range []ConvAlgorithm{ConvGEMM, ConvNative} {
		t.Run(conv.String(), func(t *testing.T) {
			v := loadOfficialTiny(t, conv)
			if !v.Config.Equal(OfficialTinyConfig()) {
				t.Errorf("inferred config %+v, want %+v", v.Config, OfficialTinyConfig())
			}
			lat, err := v.Encode(io["pixels"])
			if err != nil {
				t.Fatal(err)
			}
			e := relL2(t, lat, io["latents"])
			t.Logf("encode relative L2 error vs official: %.3g", e)
			if e > 1e-4 {
				t.Errorf("encode relative L2 error %.3g > 1e-4", e)
			}
			dec, err := v.Decode(io["dec_in"])
			if err != nil {
				t.Fatal(err)
			}
			e = relL2(t, dec, io["dec_out"])
			t.Logf("decode relative L2 error vs official: %.3g", e)
			if e > 1e-4 {
				t.Errorf("decode relative L2 error %.3g > 1e-4", e)
			}
		})
	}
}
