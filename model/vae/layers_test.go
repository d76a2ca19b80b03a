package vae

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flora-ml/flora/internal/tensorrand"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// randTensor returns a float32 tensor of normal values.
func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor { return tensorrand.Normal(rng, dims...) }

// convReference is a direct float64 convolution: x [B, I, H, W], k [O, I, kh, kw].
func convReference(x, k, bias []float32, b, in, h, w, out, kh, kw, stride int, pad [2][2]int) ([]float64, int, int) {
	ho := (h+pad[0][0]+pad[0][1]-kh)/stride + 1
	wo := (w+pad[1][0]+pad[1][1]-kw)/stride + 1
	y := make([]float64, b*out*ho*wo)
	for bi := 0; bi < b; bi++ {
		for o := 0; o < out; o++ {
			for i := 0; i < ho; i++ {
				for j := 0; j < wo; j++ {
					s := float64(bias[o])
					for c := 0; c < in; c++ {
						for di := 0; di < kh; di++ {
							for dj := 0; dj < kw; dj++ {
								r, q := i*stride+di-pad[0][0], j*stride+dj-pad[1][0]
								if r < 0 || r >= h || q < 0 || q >= w {
									continue
								}
								s += float64(x[((bi*in+c)*h+r)*w+q]) * float64(k[((o*in+c)*kh+di)*kw+dj])
							}
						}
					}
					y[((bi*out+o)*ho+i)*wo+j] = s
				}
			}
		}
	}
	return y, ho, wo
}

// TestConv2D compares both convolution algorithms with a direct loop for
// the three convolutions of the model: 3×3 padded, the asymmetric stride-2
// downsample, and 1×1.
func TestConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b, in, h, w, out := 2, 5, 7, 6, 4
	tests := []struct {
		name   string
		k      int
		stride int
		pad    [2][2]int
	}{
		{"3x3", 3, 1, [2][2]int{{1, 1}, {1, 1}}},
		{"downsample", 3, 2, [2][2]int{{0, 1}, {0, 1}}},
		{"1x1", 1, 1, [2][2]int{}},
	}
	for _, tc := range tests {
		x, k, bias := randTensor(rng, b, in, h, w), randTensor(rng, out, in, tc.k, tc.k), randTensor(rng, out)
		want, ho, wo := convReference(tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](k),
			tensors.MustCopyFlatData[float32](bias), b, in, h, w, out, tc.k, tc.k, tc.stride, tc.pad)
		for _, algo := range []ConvAlgorithm{ConvGEMM, ConvNative} {
			got := MustExecOnce(testutil.Backend(t), func(x, k, bias *Node) *Node {
				return Conv2D(algo, x, k, bias, tc.stride, tc.pad)
			}, x, k, bias)
			if d := got.Shape().Dimensions; d[2] != ho || d[3] != wo {
				t.Fatalf("%s/%v: output %v, want [.. %d %d]", tc.name, algo, d, ho, wo)
			}
			if e := maxAbsDiff(tensors.MustCopyFlatData[float32](got), want); e > 1e-5 {
				t.Errorf("%s/%v: max |error| %.3g", tc.name, algo, e)
			}
		}
	}
}

func maxAbsDiff(got []float32, want []float64) float64 {
	m := 0.0
	for i := range got {
		m = max(m, math.Abs(float64(got[i])-want[i]))
	}
	return m
}

// TestGroupNorm compares with a float64 computation of PyTorch's formula.
func TestGroupNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b, c, h, w, groups := 2, 6, 3, 4, 3
	x, gamma, beta := randTensor(rng, b, c, h, w), randTensor(rng, c), randTensor(rng, c)
	got := tensors.MustCopyFlatData[float32](MustExecOnce(testutil.Backend(t), func(x, g, bt *Node) *Node {
		return GroupNorm(AddScalar(MulScalar(x, 3), 5), g, bt, groups, 1e-6) // offset and scale to test centring
	}, x, gamma, beta))
	xs, gs, bs := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](gamma), tensors.MustCopyFlatData[float32](beta)
	per := c / groups * h * w
	want := make([]float64, len(xs))
	for bi := 0; bi < b; bi++ {
		for g := 0; g < groups; g++ {
			base := (bi*c + g*(c/groups)) * h * w
			var mean, sq float64
			for i := 0; i < per; i++ {
				mean += 3*float64(xs[base+i]) + 5
			}
			mean /= float64(per)
			for i := 0; i < per; i++ {
				d := 3*float64(xs[base+i]) + 5 - mean
				sq += d * d
			}
			std := math.Sqrt(sq/float64(per) + 1e-6)
			for i := 0; i < per; i++ {
				ch := g*(c/groups) + i/(h*w)
				want[base+i] = (3*float64(xs[base+i])+5-mean)/std*float64(gs[ch]) + float64(bs[ch])
			}
		}
	}
	if e := maxAbsDiff(got, want); e > 1e-5 {
		t.Errorf("GroupNorm max |error| %.3g", e)
	}
}

// counting returns 0, 1, 2, … as values and as a tensor of the dimensions.
func counting(dims ...int) ([]float32, *tensors.Tensor) {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v, tensors.FromFlatDataAndDimensions(v, dims...)
}

// TestPatchify checks the channel order c·4 + pi·2 + pj of flux2-spec.md
// §4.5 and that Unpatchify inverts it exactly.
func TestPatchify(t *testing.T) {
	b, c, h, w := 2, 3, 4, 6
	v, x := counting(b, c, h, w)
	outs := MustExecOnceN(testutil.Backend(t), func(x *Node) []*Node {
		p := Patchify(x, 2, 2)
		return []*Node{p, Unpatchify(p, 2, 2)}
	}, x)
	p := tensors.MustCopyFlatData[float32](outs[0])
	hh, ww := h/2, w/2
	for bi := 0; bi < b; bi++ {
		for ci := 0; ci < c; ci++ {
			for pi := 0; pi < 2; pi++ {
				for pj := 0; pj < 2; pj++ {
					for i := 0; i < hh; i++ {
						for j := 0; j < ww; j++ {
							got := p[((bi*4*c+ci*4+pi*2+pj)*hh+i)*ww+j]
							want := v[((bi*c+ci)*h+2*i+pi)*w+2*j+pj]
							if got != want {
								t.Fatalf("patch[b%d, c%d, pi%d, pj%d, %d, %d] = %v, want %v", bi, ci, pi, pj, i, j, got, want)
							}
						}
					}
				}
			}
		}
	}
	back := tensors.MustCopyFlatData[float32](outs[1])
	for i := range v {
		if back[i] != v[i] {
			t.Fatalf("Unpatchify(Patchify(x))[%d] = %v, want %v", i, back[i], v[i])
		}
	}
}

func TestNearestUpsample2x(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6}, 1, 1, 2, 3)
	got := tensors.MustCopyFlatData[float32](MustExecOnce(testutil.Backend(t), NearestUpsample2x, x))
	want := []float32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("upsampled %v, want %v", got, want)
		}
	}
}

// TestBFloat16RNE checks float32 → bfloat16 rounding to nearest, ties to even.
func TestBFloat16RNE(t *testing.T) {
	tests := []struct {
		bits uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, even above
		{0x3f808001, 0x3f81}, // above the tie
		{0xbf807fff, 0xbf80}, // below the tie, negative
		{0x7f800000, 0x7f80}, // +Inf
		{0x7f7fffff, 0x7f80}, // max float32 rounds to +Inf
	}
	for _, tc := range tests {
		if got := bfloat16RNE(math.Float32frombits(tc.bits)).Bits(); got != tc.want {
			t.Errorf("bfloat16RNE(%#08x) = %#04x, want %#04x", tc.bits, got, tc.want)
		}
	}
	if f := bfloat16RNE(float32(math.NaN())).Float32(); f == f {
		t.Error("NaN did not stay NaN")
	}
}
