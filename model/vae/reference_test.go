package vae

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// loadOfficialTiny loads the official tiny fixture autoencoder.
func loadOfficialTiny(t testing.TB, conv ConvAlgorithm) *VAE {
	t.Helper()
	dir := testutil.ReferenceDir(t)
	src := testutil.MapSource(weightstest.ReadF32(t, filepath.Join(dir, "vae.safetensors")))
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
	dir := testutil.ReferenceDir(t)
	io := weightstest.ReadF32(t, filepath.Join(dir, "vae_io.safetensors"))
	for _, conv := range []ConvAlgorithm{ConvGEMM, ConvNative} {
		t.Run(conv.String(), func(t *testing.T) {
			v := loadOfficialTiny(t, conv)
			if !v.Config.Equal(OfficialTinyConfig()) {
				t.Errorf("inferred config %+v, want %+v", v.Config, OfficialTinyConfig())
			}
			checkEncodeDecode(t, v, io, "official")
		})
	}
}

// TestBFloat16 runs the official fixture with bfloat16 weights and
// activations (GroupNorm, softmax, the latent BatchNorm and the GEMM
// convolutions' tap sums stay float32). The error is bfloat16 rounding
// compounded through the random-weight network (measured 2.0e-2 encode,
// 2.5e-2 decode); the references run the autoencoder in float32.
func TestBFloat16(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	io := weightstest.ReadF32(t, filepath.Join(dir, "vae_io.safetensors"))
	src := testutil.MapSource(weightstest.ReadF32(t, filepath.Join(dir, "vae.safetensors")))
	v, err := Load(testutil.Backend(t), convertingSource{src}, "vae.safetensors", Options{DType: dtypes.BFloat16})
	if err != nil {
		t.Fatal(err)
	}
	if w := v.Weight("decoder.conv_in.weight"); w.DType() != dtypes.BFloat16 {
		t.Errorf("weights are %s, want BFloat16", w.DType())
	}
	if w := v.Weight(bnVar); w.DType() != dtypes.Float32 {
		t.Errorf("BatchNorm statistics are %s, want Float32", w.DType())
	}
	lat, err := v.Encode(io["pixels"])
	if err != nil {
		t.Fatal(err)
	}
	dec, err := v.Decode(io["dec_in"])
	if err != nil {
		t.Fatal(err)
	}
	encErr, decErr := testutil.RelL2Tensors(t, lat, io["latents"]), testutil.RelL2Tensors(t, dec, io["dec_out"])
	t.Logf("bfloat16 relative L2 error vs official float32: encode %.3g, decode %.3g", encErr, decErr)
	if encErr > 5e-2 || decErr > 5e-2 {
		t.Errorf("bfloat16 errors too large: encode %.3g, decode %.3g", encErr, decErr)
	}
}

// convertingSource converts dtypes on read, like a real checkpoint reader.
type convertingSource struct{ testutil.MapSource }

func (s convertingSource) ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, err := s.MapSource.ReadAs(name, dtypes.Float32)
	if err != nil || dtype == dtypes.Float32 {
		return t, err
	}
	return convertTensor(t, dtype)
}
