package quant

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestParallelQuantizersMatchSerial: the chunked (concurrent) quantizers
// give exactly what quantizing small pieces one by one (below the parallel
// grain, so serially) gives.
func TestParallelQuantizersMatchSerial(t *testing.T) {
	const rows, cols = 384, 1024 // 393k values: several chunks
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64()) * 0.02
	}
	w[5*cols+7] = 0.9 // outliers and an all-zero row
	clear(w[9*cols : 10*cols])

	packed, absmax, err := QuantizeNF4(w)
	if err != nil {
		t.Fatal(err)
	}
	var wantPacked []byte
	var wantAbsmax []float32
	for lo := 0; lo < len(w); lo += 8 * NF4Block {
		p, a, err := QuantizeNF4(w[lo:min(len(w), lo+8*NF4Block)])
		if err != nil {
			t.Fatal(err)
		}
		wantPacked, wantAbsmax = append(wantPacked, p...), append(wantAbsmax, a...)
	}
	if !bytes.Equal(packed, wantPacked) || !slices.Equal(absmax, wantAbsmax) {
		t.Error("nf4: parallel result differs from serial pieces")
	}

	q, scale := QuantizeInt8(w, rows, cols)
	codes, fscale := QuantizeFP8(w, rows, cols)
	for r := 0; r < rows; r++ {
		row := w[r*cols : (r+1)*cols]
		rq, rs := QuantizeInt8(row, 1, cols)
		rc, rf := QuantizeFP8(row, 1, cols)
		if !slices.Equal(q[r*cols:(r+1)*cols], rq) || scale[r] != rs[0] {
			t.Fatalf("int8 row %d differs from serial", r)
		}
		if !bytes.Equal(codes[r*cols:(r+1)*cols], rc) || fscale[r] != rf[0] {
			t.Fatalf("fp8 row %d differs from serial", r)
		}
	}
}

// BenchmarkQuantize measures host quantization throughput on a FLUX.2 dev
// double-block MLP weight ([36864, 6144] is too big for CI: one 4096×6144
// slice of it).
func BenchmarkQuantize(b *testing.B) {
	const rows, cols = 4096, 6144
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64()) * 0.02
	}
	for _, s := range []string{"int8", "fp8", "nf4"} {
		b.Run(s, func(b *testing.B) {
			b.SetBytes(int64(2 * len(w))) // bf16 bytes in
			for b.Loop() {
				switch s {
				case "int8":
					QuantizeInt8(w, rows, cols)
				case "fp8":
					QuantizeFP8(w, rows, cols)
				case "nf4":
					QuantizeNF4(w)
				}
			}
		})
	}
}

// encodeE4M3Search is the table-search encoder EncodeE4M3 must equal:
// the largest code not above |x|, or the next one when that is nearer
// (ties to the even code), with exact (float64) distances.
func encodeE4M3Search(x float32) byte {
	if x != x {
		return 0x7f
	}
	var sign byte
	if math.Signbit(float64(x)) {
		sign, x = 0x80, -x
	}
	if x >= FP8Max {
		return sign | 0x7e
	}
	lo, hi := 0, 126
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if e4m3Positive[mid] <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	c := lo
	if c < 126 {
		d1, d2 := float64(x)-float64(e4m3Positive[c]), float64(e4m3Positive[c+1])-float64(x)
		if d2 < d1 || (d2 == d1 && c%2 == 1) {
			c++
		}
	}
	return sign | byte(c)
}

// TestFastEncodersMatchSearch sweeps float32 bit patterns (every 61st, plus
// every tie and its neighbours) through the bit-level fp8 encoder and the
// table-lookup NF4 coder, against the search versions.
func TestFastEncodersMatchSearch(t *testing.T) {
	check := func(x float32) {
		if got, want := EncodeE4M3(x), encodeE4M3Search(x); got != want {
			t.Fatalf("EncodeE4M3(%g [%#x]) = %#x, search gives %#x", x, math.Float32bits(x), got, want)
		}
		if x >= -1 && x <= 1 {
			if got, want := nf4Code(x), nf4CodeSearch(x); got != want {
				t.Fatalf("nf4Code(%g) = %d, search gives %d", x, got, want)
			}
		}
	}
	for bits := uint64(0); bits < 1<<32; bits += 61 {
		check(math.Float32frombits(uint32(bits)))
	}
	var ties []float32
	for c := 0; c < 126; c++ {
		ties = append(ties, float32((float64(e4m3Positive[c])+float64(e4m3Positive[c+1]))/2), e4m3Positive[c])
	}
	ties = append(ties, nf4Mid[:]...)
	ties = append(ties, NF4Table[:]...)
	for _, x := range ties {
		for _, v := range []float32{x, math.Nextafter32(x, 2), math.Nextafter32(x, -2)} {
			check(v)
			check(-v)
		}
	}
	for b := 0; b <= nf4Bins; b++ {
		x := float32(b)*2/nf4Bins - 1
		check(x)
		check(math.Nextafter32(x, 2))
		check(math.Nextafter32(x, -2))
	}
}
