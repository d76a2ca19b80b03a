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

// nf4Code returns the index of the level nearest to x ∈ [−1, 1].
func nf4Code(x float32) byte {
	// Levels are sorted: binary search the midpoints.
	lo, hi := 0, 15
	for lo < hi {
		mid := (lo + hi) / 2
		if x > (NF4Table[mid]+NF4Table[mid+1])/2 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return byte(lo)
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
	for b := 0; b < nb; b++ {
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
		for i := lo; i < hi; i++ {
			c := nf4Code(w[i] * inv)
			if i%2 == 0 {
				packed[i/2] |= c << 4
			} else {
				packed[i/2] |= c
			}
		}
	}
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
