package quant

import (
	"math"

	"github.com/flora-ml/flora/model/weights"
)

// FP8 E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities,
// S.1111.111 is NaN, largest finite 448, smallest subnormal 2^-9.

// FP8Max is the largest finite e4m3fn value.
const FP8Max = 448

// DecodeE4M3 returns the value of an e4m3fn code (weights.F8E4M3ToFloat32).
func DecodeE4M3(c byte) float32 { return weights.F8E4M3ToFloat32(c) }

// e4m3Positive lists the 127 finite non-negative values in code order
// (codes 0x00..0x7e); they increase with the code.
var e4m3Positive = func() [127]float32 {
	var t [127]float32
	for c := range t {
		t[c] = DecodeE4M3(byte(c))
	}
	return t
}()

// EncodeE4M3 rounds x to the nearest e4m3fn value (ties to the even code),
// saturating to ±448 and mapping NaN to the NaN code. It works on the
// float32 bits (rounding the 23-bit mantissa to 3 bits), which is several
// times faster than searching the code table; a test checks it against the
// table search on a sweep of float32 bit patterns and every tie.
func EncodeE4M3(x float32) byte {
	if x != x {
		return 0x7f
	}
	bits := math.Float32bits(x)
	sign := byte(bits>>24) & 0x80
	bits &^= 1 << 31
	a := math.Float32frombits(bits)
	if a >= FP8Max {
		return sign | 0x7e
	}
	if a < 1.0/64 { // subnormal range of e4m3: multiples of 2^-9
		return sign | byte(math.RoundToEven(float64(a)*512))
	}
	e := int(bits>>23) - 127 + 7 // 1..8 for a in [2^-6, 448)
	m := bits & 0x7fffff
	code := uint32(e)<<3 | m>>20
	rest := m & 0xfffff
	if rest > 0x80000 || (rest == 0x80000 && code&1 == 1) {
		code++ // a carry out of the mantissa correctly bumps the exponent
	}
	return sign | byte(code)
}

// QuantizeFP8 quantizes a [rows, cols] matrix to e4m3fn codes with one
// float32 scale per output channel: scale = max|row|/448, code = e4m3(w/scale).
func QuantizeFP8(w []float32, rows, cols int) (codes []byte, scale []float32) {
	return quantizeRows(w, rows, cols, FP8Max, func(dst []byte, row []float32, inv float32) {
		for i, x := range row {
			dst[i] = EncodeE4M3(x * inv)
		}
	})
}

// DequantizeFP8 inverts QuantizeFP8 on the host.
func DequantizeFP8(codes []byte, scale []float32, rows, cols int) []float32 {
	return dequantizeRows(codes, scale, cols, DecodeE4M3)
}

// E4M3Table is the 256-entry decode table used by the in-graph dequantizer
// (NaN codes decode to 0: they never occur in Flora's own quantization).
func E4M3Table() []float32 {
	t := make([]float32, 256)
	for c := range t {
		v := DecodeE4M3(byte(c))
		if v != v {
			v = 0
		}
		t[c] = v
	}
	return t
}
