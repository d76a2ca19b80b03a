package vae

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// Net builds the autoencoder's graphs: an architecture plus the convolution
// algorithm to compute it with. Activations are NCHW in the dtype of the
// input (Float32 or BFloat16); normalisations and the attention softmax run
// in float32.
type Net struct {
	// Config is the architecture.
	Config Config
	// Conv is the convolution algorithm; it must be resolved (not ConvAuto,
	// see ConvAlgorithm.Resolve).
	Conv ConvAlgorithm
}

// GroupNorm is PyTorch's affine GroupNorm: x [B, C, H, W] normalised over
// each of `groups` channel groups (and all positions) with the biased
// variance, eps added to it, then scaled by gamma [C] and shifted by
// beta [C]. Computed in float32; returns x's dtype.
func GroupNorm(x, gamma, beta *Node, groups int, eps float64) *Node {
	b, c, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	if c%groups != 0 {
		panicf("vae: GroupNorm of %d channels into %d groups", c, groups)
	}
	assertDims("GroupNorm weight", gamma, c)
	assertDims("GroupNorm bias", beta, c)
	dtype := x.DType()
	xf := ConvertDType(x, dtypes.Float32)
	g := Reshape(xf, b, groups, (c/groups)*h*w)
	mean := ReduceAndKeep(g, ReduceMean, -1)
	centered := Sub(g, mean)
	variance := ReduceAndKeep(Square(centered), ReduceMean, -1)
	y := Reshape(Div(centered, Sqrt(AddScalar(variance, eps))), b, c, h, w)
	y = Mul(y, Reshape(ConvertDType(gamma, dtypes.Float32), 1, c, 1, 1))
	y = Add(y, Reshape(ConvertDType(beta, dtypes.Float32), 1, c, 1, 1))
	return ConvertDType(y, dtype)
}

// SiLU is x·sigmoid(x) (the reference's "swish").
func SiLU(x *Node) *Node { return Mul(x, Sigmoid(x)) }

// norm applies the GroupNorm module `name` of w.
func (n Net) norm(w Weights, name string, x *Node) *Node {
	return GroupNorm(x, w.Get(name+".weight"), w.Get(name+".bias"), n.Config.Groups, n.Config.NormEps)
}

// ResnetBlock maps x [B, in, H, W] → [B, out, H, W]:
// h = conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), plus x (through the 1×1
// nin_shortcut when in ≠ out). out is read off conv1's kernel.
func (n Net) ResnetBlock(w Weights, x *Node) *Node {
	in := x.Shape().Dim(1)
	out := w.Get("conv1.weight").Shape().Dim(0)
	h := n.conv3x3(w, "conv1", SiLU(n.norm(w, "norm1", x)))
	h = n.conv3x3(w, "conv2", SiLU(n.norm(w, "norm2", h)))
	if in != out {
		x = n.conv1x1(w, "nin_shortcut", x)
	}
	return Add(x, h)
}

// AttnBlock is the mid-block single-head self-attention over all H·W
// positions: x [B, C, H, W] → x + proj_out(softmax(q·kᵀ/√C)·v) with q, k, v
// 1×1 convolutions of GroupNorm(x). Scores and softmax are float32.
func (n Net) AttnBlock(w Weights, x *Node) *Node {
	b, c, h, wd := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	l := h * wd
	hn := Reshape(n.norm(w, "norm", x), b, c, l)
	q := Conv1x1(hn, w.Get("q.weight"), w.Get("q.bias"))
	k := Conv1x1(hn, w.Get("k.weight"), w.Get("k.bias"))
	v := Conv1x1(hn, w.Get("v.weight"), w.Get("v.bias"))
	// [B, C, Lq] · [B, C, Lk] → [B, Lq, Lk]
	scores := DotGeneral(q, []int{1}, []int{0}, k, []int{1}, []int{0})
	scores = MulScalar(ConvertDType(scores, dtypes.Float32), 1/math.Sqrt(float64(c)))
	attn := ConvertDType(Softmax(scores, -1), x.DType())
	// [B, C, Lk] · [B, Lq, Lk] → [B, C, Lq]
	o := DotGeneral(v, []int{2}, []int{0}, attn, []int{2}, []int{0})
	o = Conv1x1(o, w.Get("proj_out.weight"), w.Get("proj_out.bias"))
	return Add(x, Reshape(o, b, c, h, wd))
}

// MidBlock is ResnetBlock, AttnBlock (when configured), ResnetBlock.
func (n Net) MidBlock(w Weights, x *Node) *Node {
	x = n.ResnetBlock(w.In("block_1"), x)
	if n.Config.MidAttention {
		x = n.AttnBlock(w.In("attn_1"), x)
	}
	return n.ResnetBlock(w.In("block_2"), x)
}

// Downsample zero-pads x [B, C, H, W] by one row at the bottom and one
// column at the right, then applies the 3×3 stride-2 convolution `conv`:
// → [B, C, H/2, W/2] for even H, W.
func (n Net) Downsample(w Weights, x *Node) *Node {
	return n.convModule(w, "conv", x, 2, [2][2]int{{0, 1}, {0, 1}})
}

// Upsample repeats every pixel of x [B, C, H, W] 2×2 (nearest neighbour)
// and applies the 3×3 convolution `conv`: → [B, C, 2H, 2W].
func (n Net) Upsample(w Weights, x *Node) *Node {
	return n.conv3x3(w, "conv", NearestUpsample2x(x))
}

// NearestUpsample2x repeats every pixel of x [B, C, H, W] 2×2 → [B, C, 2H, 2W].
func NearestUpsample2x(x *Node) *Node {
	b, c, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	y := BroadcastToDims(Reshape(x, b, c, h, 1, w, 1), b, c, h, 2, w, 2)
	return Reshape(y, b, c, 2*h, 2*w)
}
