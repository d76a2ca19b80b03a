package quant

import (
	"fmt"
	"math"
)

// NF4Table holds the 16 NormalFloat-4 levels (quantiles of N(0,1) rescaled
// to [−1, 1], with an exact 0), as defined by QLoRA.
var NF4Table = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// NF4Block is the number of weights sharing one absmax.
const NF4Block = 64

// nf4Mid are the midpoints between consecutive NF4 levels: code c covers
// (nf4Mid[c-1], nf4Mid[c]].
var nf4Mid = func() (m [15]float32) {
	for i := range m {
		m[i] = (NF4Table[i] + NF4Table[i+1]) / 2
	}
	return m
}()

// nf4Bins is the number of equal bins of [−1, 1] in nf4BinCode; they are
// far narrower than the gaps between midpoints (≥ 0.08), so at most one
// midpoint falls in a bin and one comparison settles the code.
const nf4Bins = 4096

// nf4BinCode[b] is the code of bin b's lower edge.
var nf4BinCode = func() (t [nf4Bins + 1]byte) {
	for b := range t {
		t[b] = nf4CodeSearch(float32(b)*2/nf4Bins - 1)
	}
	return t
}()

// nf4CodeSearch returns the code of x by binary search over the midpoints.
func nf4CodeSearch(x float32) byte {
	lo, hi := 0, 15
	for lo < hi {
		mid := (lo + hi) / 2
		if x > nf4Mid[mid] {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return byte(lo)
}

// nf4Code returns the index of the level nearest to x ∈ [−1, 1] (ties to
// the lower level), the same as nf4CodeSearch but by table lookup: the bin's
// code, corrected by comparing with the neighbouring midpoints (the loops
// run at most once, and also absorb rounding in the bin index).
func nf4Code(x float32) byte {
	b := int((x + 1) * (nf4Bins / 2))
	b = max(0, min(nf4Bins, b))
	c := int(nf4BinCode[b])
	for c > 0 && x <= nf4Mid[c-1] {
		c--
	}
	for c < 15 && x > nf4Mid[c] {
		c++
	}
	return byte(c)
}

// QuantizeNF4 quantizes w (row-major, any shape, even length) in blocks of
// 64: each value is divided by its block's absmax and mapped to the nearest
// NF4 level. Codes are packed two per byte, element 2i in the high nibble and
// 2i+1 in the low nibble. A last partial block uses its own absmax.
func QuantizeNF4(w []float32) (packed []byte, absmax []float32, err error) {
	if len(w)%2 != 0 {
		return nil, nil, fmt.Errorf("nf4 needs an even number of values, got %d", len(w))
	}
	nb := (len(w) + NF4Block - 1) / NF4Block
	absmax = make([]float32, nb)
	packed = make([]byte, len(w)/2)
	// Blocks are 64 values, so every block starts on a byte boundary and
	// concurrent chunks of blocks write disjoint bytes.
	parallelFor(nb, NF4Block, func(b0, b1 int) {
		for b := b0; b < b1; b++ {
			lo, hi := b*NF4Block, min(len(w), (b+1)*NF4Block)
			var m float32
			for _, x := range w[lo:hi] {
				if a := float32(math.Abs(float64(x))); a > m {
					m = a
				}
			}
			absmax[b] = m
			inv := float32(0)
			if m > 0 {
				inv = 1 / m
			}
			for i := lo; i < hi; i += 2 {
				c := nf4Code(w[i]*inv) << 4
				if i+1 < hi {
					c |= nf4Code(w[i+1] * inv)
				}
				packed[i/2] = c
			}
		}
	})
	return packed, absmax, nil
}

// DequantizeNF4 inverts QuantizeNF4 on the host (n values).
func DequantizeNF4(packed []byte, absmax []float32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		c := packed[i/2] & 0x0f
		if i%2 == 0 {
			c = packed[i/2] >> 4
		}
		out[i] = NF4Table[c] * absmax[i/NF4Block]
	}
	return out
}

// DoubleQuantBlock is the number of NF4 absmax values sharing one scale
// when they are double-quantized.
const DoubleQuantBlock = 256

// QuantizeAbsmax double-quantizes NF4 block scales: the mean is subtracted
// and the rest stored as int8 with one float32 scale per 256 values.
func QuantizeAbsmax(absmax []float32) (codes []int8, scales []float32, offset float32) {
	var sum float64
	for _, a := range absmax {
		sum += float64(a)
	}
	offset = float32(sum / float64(max(1, len(absmax))))
	nb := (len(absmax) + DoubleQuantBlock - 1) / DoubleQuantBlock
	scales = make([]float32, nb)
	codes = make([]int8, len(absmax))
	for b := 0; b < nb; b++ {
		lo, hi := b*DoubleQuantBlock, min(len(absmax), (b+1)*DoubleQuantBlock)
		var m float32
		for _, a := range absmax[lo:hi] {
			m = max(m, float32(math.Abs(float64(a-offset))))
		}
		scales[b] = m / 127
		for i := lo; i < hi; i++ {
			if m > 0 {
				codes[i] = int8(math.Round(float64((absmax[i] - offset) / m * 127)))
			}
		}
	}
	return codes, scales, offset
}

// DequantizeAbsmax inverts QuantizeAbsmax on the host.
func DequantizeAbsmax(codes []int8, scales []float32, offset float32) []float32 {
	out := make([]float32, len(codes))
	for i, c := range codes {
		out[i] = float32(c)*scales[i/DoubleQuantBlock] + offset
	}
	return out
}
