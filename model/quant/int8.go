package quant

import "math"

// QuantizeInt8 quantizes a [rows, cols] matrix per output channel (row):
// scale = max|row|/127, q = round(w/scale) ∈ [−127, 127].
func QuantizeInt8(w []float32, rows, cols int) (q []int8, scale []float32) {
	return quantizeRows(w, rows, cols, 127, func(dst []int8, row []float32, inv float32) {
		for i, x := range row {
			dst[i] = int8(math.Round(float64(x * inv)))
		}
	})
}

// DequantizeInt8 inverts QuantizeInt8 on the host.
func DequantizeInt8(q []int8, scale []float32, rows, cols int) []float32 {
	return dequantizeRows(q, scale, cols, func(v int8) float32 { return float32(v) })
}
