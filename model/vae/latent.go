package vae

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// Patchify folds every ph×pw block of x [B, C, H, W] into channels:
// → [B, C·ph·pw, H/ph, W/pw], output channel c·ph·pw + pi·pw + pj holding
// x[c, i·ph + pi, j·pw + pj] at (i, j) (the reference's
// "c (i pi) (j pj) -> (c pi pj) i j").
func Patchify(x *Node, ph, pw int) *Node {
	b, c, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	if h%ph != 0 || w%pw != 0 {
		panicf("vae: cannot patchify %v into %dx%d patches", x.Shape().Dimensions, ph, pw)
	}
	y := Reshape(x, b, c, h/ph, ph, w/pw, pw)
	y = TransposeAllDims(y, 0, 1, 3, 5, 2, 4)
	return Reshape(y, b, c*ph*pw, h/ph, w/pw)
}

// Unpatchify is the inverse of Patchify: x [B, C·ph·pw, h, w] → [B, C, h·ph, w·pw].
func Unpatchify(x *Node, ph, pw int) *Node {
	b, cp, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	if cp%(ph*pw) != 0 {
		panicf("vae: cannot unpatchify %d channels with %dx%d patches", cp, ph, pw)
	}
	c := cp / (ph * pw)
	y := Reshape(x, b, c, ph, pw, h, w)
	y = TransposeAllDims(y, 0, 1, 4, 2, 5, 3)
	return Reshape(y, b, c, h*ph, w*pw)
}

// NormalizeLatents is the BatchNorm in evaluation mode without affine:
// (p − mean[k]) / sqrt(variance[k] + eps) for p [B, K, h, w] and running
// statistics mean, variance [K]. Computed and returned in float32.
func NormalizeLatents(p, mean, variance *Node, eps float64) *Node {
	k := p.Shape().Dim(1)
	m, s := bnStats(mean, variance, k, eps)
	return Div(Sub(ConvertDType(p, dtypes.Float32), m), s)
}

// DenormalizeLatents inverts NormalizeLatents: z·sqrt(variance[k] + eps) + mean[k].
func DenormalizeLatents(z, mean, variance *Node, eps float64) *Node {
	k := z.Shape().Dim(1)
	m, s := bnStats(mean, variance, k, eps)
	return Add(Mul(ConvertDType(z, dtypes.Float32), s), m)
}

// bnStats returns mean and sqrt(variance + eps) shaped [1, K, 1, 1], float32.
func bnStats(mean, variance *Node, k int, eps float64) (m, s *Node) {
	assertDims("BatchNorm running_mean", mean, k)
	assertDims("BatchNorm running_var", variance, k)
	m = Reshape(ConvertDType(mean, dtypes.Float32), 1, k, 1, 1)
	s = Reshape(Sqrt(AddScalar(ConvertDType(variance, dtypes.Float32), eps)), 1, k, 1, 1)
	return m, s
}

// EncodeLatents is the whole encode path: images x [B, InChannels, H, W] →
// normalised packed latents [B, LatentChannels, H/16, W/16] (float32): the
// posterior mean, patchified, normalised by the BatchNorm statistics.
func (n Net) EncodeLatents(w Weights, x *Node) *Node {
	c := n.Config
	p := Patchify(n.EncoderMean(w, x), c.PatchSize[0], c.PatchSize[1])
	return NormalizeLatents(p, w.Get(bnMean), w.Get(bnVar), c.BatchNormEps)
}

// DecodeLatents is the whole decode path: normalised packed latents
// z [B, LatentChannels, h, w] → images [B, OutChannels, 16h, 16w] computed in
// dtype: denormalise (float32), unpatchify, decode.
func (n Net) DecodeLatents(w Weights, z *Node, dtype dtypes.DType) *Node {
	c := n.Config
	b, h, wd := z.Shape().Dim(0), z.Shape().Dim(2), z.Shape().Dim(3)
	assertDims("latents", z, b, c.LatentChannels(), h, wd)
	p := DenormalizeLatents(z, w.Get(bnMean), w.Get(bnVar), c.BatchNormEps)
	return n.Decoder(w, ConvertDType(Unpatchify(p, c.PatchSize[0], c.PatchSize[1]), dtype))
}
