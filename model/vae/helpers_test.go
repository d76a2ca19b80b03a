package vae

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// checkEncodeDecode checks Encode(io["pixels"]) against io["latents"] and
// Decode(io["dec_in"]) against io["dec_out"], each within relative L2 1e-4;
// vs names the reference in the log.
func checkEncodeDecode(t *testing.T, v *VAE, io map[string]*tensors.Tensor, vs string) {
	t.Helper()
	lat, err := v.Encode(io["pixels"])
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckRelL2Tensors(t, "encode vs "+vs, lat, io["latents"], 1e-4)
	dec, err := v.Decode(io["dec_in"])
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckRelL2Tensors(t, "decode vs "+vs, dec, io["dec_out"], 1e-4)
}
