package quant

import "math"

// quantizeRows quantizes a [rows, cols] matrix per output channel (row), in
// parallel: scale = max|row|/top, and encode writes the row's codes into
// dst from the row and inv = top/max|row| (codes of all-zero rows stay
// zero). Int8 and fp8 differ only in top and encode.
func quantizeRows[T any](w []float32, rows, cols int, top float32, encode func(dst []T, row []float32, inv float32)) (codes []T, scale []float32) {
	codes = make([]T, len(w))
	scale = make([]float32, rows)
	parallelFor(rows, cols, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := w[r*cols : (r+1)*cols]
			var m float32
			for _, x := range row {
				m = max(m, float32(math.Abs(float64(x))))
			}
			scale[r] = m / top
			if m == 0 {
				continue
			}
			encode(codes[r*cols:(r+1)*cols], row, top/m)
		}
	})
	return codes, scale
}

// dequantizeRows inverts quantizeRows on the host: value i is
// decode(codes[i]) · scale of its row.
func dequantizeRows[T any](codes []T, scale []float32, cols int, decode func(T) float32) []float32 {
	out := make([]float32, len(codes))
	for i, c := range codes {
		out[i] = decode(c) * scale[i/cols]
	}
	return out
}
