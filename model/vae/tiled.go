package vae

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Tiled encoding and decoding bound the activation memory by the tile
// size instead of the image size: the image (or latent grid) is cut into
// overlapping tiles, every tile runs through the ordinary program, and the
// results are blended with linear ramps across the overlaps.
//
// Tiled results differ from untiled ones, as with diffusers' tiling: every
// tile's GroupNorms normalise with the tile's own statistics instead of the
// whole image's, the mid-block attention sees only its tile, and
// convolutions near a tile edge see zero padding instead of the neighbour
// (the overlap blending hides the seams, not the differences). Larger tiles
// make the difference smaller, and a tile covering the whole image gives
// exactly the untiled result. TestTiledMatchesUntiled records the
// differences on the tiny random-weight model. Giving the tiles the exact
// whole-image GroupNorm statistics removes much of the difference, but
// those can only be had by running all tiles in lockstep, layer by layer,
// which this implementation does not do.

// TileOptions configure tiled encoding and decoding. Sizes are in image
// pixels and must be multiples of Config.PixelsPerLatent (16 for the
// published model).
type TileOptions struct {
	// TileSize is the side of a tile (default 512).
	TileSize int
	// Overlap is the width of the band shared by neighbouring tiles, over
	// which they are cross-faded (0 means TileSize/4, rounded down to a
	// multiple of the latent cell; must be smaller than TileSize).
	Overlap int
}

// DefaultTileSize is the default tile side in pixels.
const DefaultTileSize = 512

// cells returns the tile size and overlap in latent cells, after defaults
// and validation.
func (o TileOptions) cells(c Config) (tile, overlap int, err error) {
	ph, pw := c.PixelsPerLatent()
	if ph != pw {
		return 0, 0, fmt.Errorf("tiling needs square latent cells, got %dx%d pixels", ph, pw)
	}
	size, ov := o.TileSize, o.Overlap
	if size == 0 {
		size = DefaultTileSize
	}
	if ov == 0 {
		ov = size / 4 / ph * ph
	}
	if size <= 0 || size%ph != 0 || size > maxSide {
		return 0, 0, fmt.Errorf("tile size %d must be a positive multiple of %d pixels (at most %d)", size, ph, maxSide)
	}
	if ov < 0 || ov%ph != 0 || ov >= size {
		return 0, 0, fmt.Errorf("tile overlap %d must be a multiple of %d pixels in [0, tile size %d)", ov, ph, size)
	}
	return size / ph, ov / ph, nil
}

// tileStarts returns the start offsets of tiles of length tile covering
// [0, size) with neighbours overlapping by at least overlap; the last tile
// ends at size. The tile length is min(tile, size).
func tileStarts(size, tile, overlap int) []int {
	if size <= tile {
		return []int{0}
	}
	stride := tile - overlap
	var starts []int
	for s := 0; s+tile < size; s += stride {
		starts = append(starts, s)
	}
	return append(starts, size-tile)
}

// rampWeights returns the blending weight of each of the n output positions
// of a tile: a linear ramp over ramp positions on each side that has a
// neighbour (hasBefore, hasAfter), 1 elsewhere. Weights are never zero,
// and the blended value is Σ weight·value / Σ weight.
func rampWeights(n, ramp int, hasBefore, hasAfter bool) []float64 {
	w := make([]float64, n)
	for q := range w {
		w[q] = 1
		if ramp > 0 && hasBefore {
			w[q] = min(w[q], (float64(q)+0.5)/float64(ramp))
		}
		if ramp > 0 && hasAfter {
			w[q] = min(w[q], (float64(n-q)-0.5)/float64(ramp))
		}
	}
	return w
}

// tileFunc maps an input tile [B, Cin, hIn, wIn] to an output tile
// [B, Cout, hOut, wOut], sizes scaled by outPer/inPer.
type tileFunc func(tile *tensors.Tensor) (*tensors.Tensor, error)

// runTiled runs fn over overlapping tiles of in [B, C, H·inPer, W·inPer]
// (a grid of H×W cells, inPer input positions per cell and axis) and blends
// the outputs [B, Cout, H·outPer, W·outPer] with linear ramps spanning the
// overlap (in output positions). tile and overlap are in cells.
func runTiled(in *tensors.Tensor, inPer, outPer, tile, overlap int, fn tileFunc) (*tensors.Tensor, error) {
	d := in.Shape().Dimensions
	b, cin := d[0], d[1]
	cellsH, cellsW := d[2]/inPer, d[3]/inPer
	rowStarts, colStarts := tileStarts(cellsH, tile, overlap), tileStarts(cellsW, tile, overlap)
	th, tw := min(tile, cellsH), min(tile, cellsW)
	outH, outW := cellsH*outPer, cellsW*outPer
	ramp := overlap * outPer
	src, err := tensors.CopyFlatData[float32](in)
	if err != nil {
		return nil, err
	}
	var acc []float64
	var cout int
	weightSum := make([]float64, outH*outW)
	tileIn := make([]float32, b*cin*th*inPer*tw*inPer)
	for ri, r0 := range rowStarts {
		wRows := rampWeights(th*outPer, ramp, ri > 0, ri < len(rowStarts)-1)
		for ci, c0 := range colStarts {
			wCols := rampWeights(tw*outPer, ramp, ci > 0, ci < len(colStarts)-1)
			copyWindow(tileIn, src, b*cin, d[2], d[3], r0*inPer, c0*inPer, th*inPer, tw*inPer)
			out, err := fn(tensors.FromFlatDataAndDimensions(tileIn, b, cin, th*inPer, tw*inPer))
			if err != nil {
				return nil, fmt.Errorf("tile at cell (%d, %d): %w", r0, c0, err)
			}
			od := out.Shape().Dimensions
			if out.DType() != dtypes.Float32 || len(od) != 4 || od[0] != b || od[2] != th*outPer || od[3] != tw*outPer {
				return nil, fmt.Errorf("tile at cell (%d, %d): output %s, want float32 [%d, C, %d, %d]", r0, c0, out.Shape(), b, th*outPer, tw*outPer)
			}
			if acc == nil {
				cout = od[1]
				acc = make([]float64, b*cout*outH*outW)
			} else if od[1] != cout {
				return nil, fmt.Errorf("tile output has %d channels, earlier tiles %d", od[1], cout)
			}
			err = tensors.ConstFlatData(out, func(flat []float32) {
				y0, x0 := r0*outPer, c0*outPer
				for y, wy := range wRows {
					for x, wx := range wCols {
						wgt := wy * wx
						weightSum[(y0+y)*outW+x0+x] += wgt
						for k := 0; k < b*cout; k++ {
							acc[(k*outH+y0+y)*outW+x0+x] += wgt * float64(flat[(k*len(wRows)+y)*len(wCols)+x])
						}
					}
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	res := make([]float32, len(acc))
	for i := range acc {
		res[i] = float32(acc[i] / weightSum[i%(outH*outW)])
	}
	return tensors.FromFlatDataAndDimensions(res, b, cout, outH, outW), nil
}

// copyWindow copies the window [r0, r0+h) × [c0, c0+w) of each of the
// planes of src (planes × H × W) into dst (planes × h × w).
func copyWindow(dst, src []float32, planes, srcH, srcW, r0, c0, h, w int) {
	for p := 0; p < planes; p++ {
		for y := 0; y < h; y++ {
			from := (p*srcH+r0+y)*srcW + c0
			copy(dst[(p*h+y)*w:(p*h+y+1)*w], src[from:from+w])
		}
	}
}

// EncodeTiled is Encode computed tile by tile: pixels [B, InChannels, H, W]
// → normalised packed latents [B, LatentChannels, H/16, W/16]. Tiles are
// blended in latent space.
func (v *VAE) EncodeTiled(pixels *tensors.Tensor, opts TileOptions) (*tensors.Tensor, error) {
	per, _ := v.Config.PixelsPerLatent()
	return v.tiled("encode", pixels, v.checkPixels, opts, per, 1, v.Encode)
}

// DecodeTiled is Decode computed tile by tile: normalised packed latents
// [B, LatentChannels, h, w] → images [B, OutChannels, 16h, 16w]. Tiles are
// blended in pixel space.
func (v *VAE) DecodeTiled(latents *tensors.Tensor, opts TileOptions) (*tensors.Tensor, error) {
	per, _ := v.Config.PixelsPerLatent()
	return v.tiled("decode", latents, v.checkLatents, opts, 1, per, v.Decode)
}

// tiled checks in, then runs fn on it tile by tile (runTiled, cells of inPer
// values a side in, outPer out) with the tile size and overlap of opts; op
// names the operation in errors.
func (v *VAE) tiled(op string, in *tensors.Tensor, check func(*tensors.Tensor) error, opts TileOptions, inPer, outPer int, fn tileFunc) (*tensors.Tensor, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	tile, overlap, err := opts.cells(v.Config)
	if err != nil {
		return nil, fmt.Errorf("vae %s: %w", op, err)
	}
	return runTiled(in, inPer, outPer, tile, overlap, fn)
}
