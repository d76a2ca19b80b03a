package quant

import "math"

// QuantizeInt8 quantizes a [rows, cols] matrix per output channel (row):
// scale = max|row|/127, q = round(w/scale) ∈ [−127, 127].
func QuantizeInt8(w []float32, rows, cols int) (q []int8, scale []float32) {
	q = make([]int8, len(w))
	scale = make([]float32, rows)
	parallelFor(rows, cols, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := w[r*cols : (r+1)*cols]
			var m float32
			for _, x := range row {
				m = max(m, float32(math.Abs(float64(x))))
			}
			scale[r] = m / 127
			if m == 0 {
				continue
			}
			inv := 127 / m
			for i, x := range row {
				q[r*cols+i] = int8(math.Round(float64(x * inv)))
			}
		}
	})
	return q, scale
}

// DequantizeInt8 inverts QuantizeInt8 on the host.
func DequantizeInt8(q []int8, scale []float32, rows, cols int) []float32 {
	out := make([]float32, len(q))
	for i, v := range q {
		out[i] = float32(v) * scale[i/cols]
	}
	return out
}
