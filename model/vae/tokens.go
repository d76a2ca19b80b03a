package vae

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The transformer sees the latent grid as a token sequence: token r·W + c
// is the channel vector at row r, column c. These helpers convert between
// that layout [B, N, C] and the image layout [B, C, H, W].

// PackTokens converts x [B, C, H, W] → [B, H·W, C] in a graph.
func PackTokens(x *Node) *Node {
	b, c, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	return TransposeAllDims(Reshape(x, b, c, h*w), 0, 2, 1)
}

// UnpackTokens converts tokens [B, H·W, C] → [B, C, H, W] in a graph.
func UnpackTokens(tokens *Node, h, w int) *Node {
	b, n, c := tokens.Shape().Dim(0), tokens.Shape().Dim(1), tokens.Shape().Dim(2)
	if n != h*w {
		panicf("vae: %d tokens do not make a %dx%d grid", n, h, w)
	}
	return Reshape(TransposeAllDims(tokens, 0, 2, 1), b, c, h, w)
}

// TokensFromLatents converts latents [B, C, H, W] (any dtype) to the
// transformer's token layout [B, H·W, C] on the host.
func TokensFromLatents(latents *tensors.Tensor) (*tensors.Tensor, error) {
	dims := latents.Shape().Dimensions
	if len(dims) != 4 {
		return nil, fmt.Errorf("latents must be [B, C, H, W], got %v", dims)
	}
	b, c, hw := dims[0], dims[1], dims[2]*dims[3]
	return transposeLast2(latents, b, c, hw, []int{b, hw, c})
}

// LatentsFromTokens converts transformer tokens [B, H·W, C] (any dtype)
// back to latents [B, C, H, W] on the host.
func LatentsFromTokens(tokens *tensors.Tensor, h, w int) (*tensors.Tensor, error) {
	dims := tokens.Shape().Dimensions
	if len(dims) != 3 {
		return nil, fmt.Errorf("tokens must be [B, N, C], got %v", dims)
	}
	if h <= 0 || w <= 0 || dims[1] != h*w {
		return nil, fmt.Errorf("%d tokens do not make a %dx%d latent grid", dims[1], h, w)
	}
	return transposeLast2(tokens, dims[0], h*w, dims[2], []int{dims[0], dims[2], h, w})
}

// transposeLast2 copies t viewed as [b, r, c] into a tensor of dims out
// holding the [b, c, r] transposition, element by element (dtype-agnostic).
func transposeLast2(t *tensors.Tensor, b, r, c int, out []int) (*tensors.Tensor, error) {
	dtype := t.DType()
	size := dtype.Size()
	if size <= 0 {
		return nil, fmt.Errorf("cannot transpose tensors of dtype %s", dtype)
	}
	res := tensors.FromShape(shapes.Make(dtype, out...))
	var err error
	merr := res.MutableBytes(func(dst []byte) {
		err = t.ConstBytes(func(src []byte) {
			for bi := 0; bi < b; bi++ {
				base := bi * r * c
				for i := 0; i < r; i++ {
					for j := 0; j < c; j++ {
						from := (base + i*c + j) * size
						to := (base + j*r + i) * size
						copy(dst[to:to+size], src[from:from+size])
					}
				}
			}
		})
	})
	if merr != nil {
		return nil, merr
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}
