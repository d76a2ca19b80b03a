package weights

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// refDecode is an independent definition of a binary float format with
// sign, e exponent bits, m mantissa bits and the given bias, written from the
// textbook formula. fn: e4m3fn style (no Inf, only all-ones is NaN).
func refDecode(code uint32, e, m uint, bias int, fn bool) float64 {
	sign := 1.0
	if code>>(e+m)&1 == 1 {
		sign = -1
	}
	exp := int(code>>m) & (1<<e - 1)
	mant := float64(code & (1<<m - 1))
	if exp == 1<<e-1 {
		if !fn {
			if mant == 0 {
				return sign * math.Inf(1)
			}
			return math.NaN()
		}
		if mant == float64(uint32(1)<<m-1) {
			return math.NaN()
		}
	}
	if exp == 0 {
		return sign * mant / float64(uint64(1)<<m) * math.Pow(2, float64(1-bias))
	}
	return sign * (1 + mant/float64(uint64(1)<<m)) * math.Pow(2, float64(exp-bias))
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func TestDecodersExhaustive(t *testing.T) {
	for c := range 1 << 16 {
		if got, want := float64(BF16ToFloat32(uint16(c))), refDecode(uint32(c), 8, 7, 127, false); !sameFloat(got, want) {
			t.Fatalf("BF16ToFloat32(%#04x) = %v, want %v", c, got, want)
		}
		if got, want := float64(F16ToFloat32(uint16(c))), refDecode(uint32(c), 5, 10, 15, false); !sameFloat(got, want) {
			t.Fatalf("F16ToFloat32(%#04x) = %v, want %v", c, got, want)
		}
	}
	for c := range 256 {
		if got, want := float64(F8E4M3ToFloat32(uint8(c))), refDecode(uint32(c), 4, 3, 7, true); !sameFloat(got, want) {
			t.Fatalf("F8E4M3ToFloat32(%#02x) = %v, want %v", c, got, want)
		}
		if got, want := float64(F8E5M2ToFloat32(uint8(c))), refDecode(uint32(c), 5, 2, 15, false); !sameFloat(got, want) {
			t.Fatalf("F8E5M2ToFloat32(%#02x) = %v, want %v", c, got, want)
		}
	}
}

func TestDecodersKnownValues(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		got  float32
		want float64
	}{
		{"e4m3 max 0x7E", F8E4M3ToFloat32(0x7E), 448},
		{"e4m3 -max 0xFE", F8E4M3ToFloat32(0xFE), -448},
		{"e4m3 NaN 0x7F", F8E4M3ToFloat32(0x7F), nan},
		{"e4m3 NaN 0xFF", F8E4M3ToFloat32(0xFF), nan},
		{"e4m3 0x78 (exp all ones, finite)", F8E4M3ToFloat32(0x78), 256},
		{"e4m3 one 0x38", F8E4M3ToFloat32(0x38), 1},
		{"e4m3 min normal 0x08", F8E4M3ToFloat32(0x08), 1.0 / 64},
		{"e4m3 min subnormal 0x01", F8E4M3ToFloat32(0x01), 1.0 / 512},
		{"e4m3 -0", F8E4M3ToFloat32(0x80), math.Copysign(0, -1)},
		{"e5m2 max 0x7B", F8E5M2ToFloat32(0x7B), 57344},
		{"e5m2 +Inf 0x7C", F8E5M2ToFloat32(0x7C), math.Inf(1)},
		{"e5m2 -Inf 0xFC", F8E5M2ToFloat32(0xFC), math.Inf(-1)},
		{"e5m2 NaN 0x7D", F8E5M2ToFloat32(0x7D), nan},
		{"e5m2 NaN 0x7F", F8E5M2ToFloat32(0x7F), nan},
		{"e5m2 one 0x3C", F8E5M2ToFloat32(0x3C), 1},
		{"e5m2 min subnormal 0x01", F8E5M2ToFloat32(0x01), 1.0 / 65536},
		{"f16 max", F16ToFloat32(0x7BFF), 65504},
		{"f16 one", F16ToFloat32(0x3C00), 1},
		{"f16 min subnormal", F16ToFloat32(0x0001), math.Pow(2, -24)},
		{"bf16 one", BF16ToFloat32(0x3F80), 1},
		{"bf16 -2", BF16ToFloat32(0xC000), -2},
	}
	for _, tc := range tests {
		if !sameFloat(float64(tc.got), tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// format describes an encoder under test with an independent reference.
type encFormat struct {
	name     string
	bits     int // code width
	e, m     uint
	bias     int
	fn       bool
	saturate bool // overflow → ±max instead of ±Inf
	encode   func(float32) uint32
}

func encFormats() []encFormat {
	return []encFormat{
		{"bf16", 16, 8, 7, 127, false, false, func(f float32) uint32 { return uint32(Float32ToBF16(f)) }},
		{"f16", 16, 5, 10, 15, false, false, func(f float32) uint32 { return uint32(Float32ToF16(f)) }},
		{"e4m3", 8, 4, 3, 7, true, true, func(f float32) uint32 { return uint32(Float32ToF8E4M3(f)) }},
		{"e5m2", 8, 5, 2, 15, false, true, func(f float32) uint32 { return uint32(Float32ToF8E5M2(f)) }},
	}
}

// positives returns the finite non-negative codes of a format sorted by value.
func (f encFormat) positives() (codes []uint32, values []float64) {
	for c := uint32(0); c < 1<<(f.bits-1); c++ {
		v := refDecode(c, f.e, f.m, f.bias, f.fn)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		codes = append(codes, c)
		values = append(values, v)
	}
	sort.Slice(codes, func(i, j int) bool { return values[i] < values[j] }) // already sorted; keep explicit
	return codes, values
}

// refEncode rounds x by brute force: the nearest finite value, ties to the
// even code; overflow by the format's rule (IEEE: Inf from max + ulp/2).
func (f encFormat) refEncode(x float64, codes []uint32, values []float64) uint32 {
	var sign uint32
	if math.Signbit(x) {
		sign = 1 << (f.bits - 1)
	}
	a := math.Abs(x)
	maxV := values[len(values)-1]
	maxC := codes[len(codes)-1]
	if f.saturate && a > maxV {
		return sign | maxC
	}
	if !f.saturate {
		ulp := maxV - values[len(values)-2]
		if a >= maxV+ulp/2 {
			return sign | (maxC + 1) // Inf
		}
	}
	i := sort.SearchFloat64s(values, a) // values[i] >= a
	if i == 0 {
		return sign | codes[0]
	}
	if i == len(values) {
		return sign | maxC
	}
	lo, hi := values[i-1], values[i]
	switch {
	case a-lo < hi-a:
		return sign | codes[i-1]
	case a-lo > hi-a:
		return sign | codes[i]
	case codes[i-1]%2 == 0:
		return sign | codes[i-1]
	}
	return sign | codes[i]
}

func TestEncodersAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range encFormats() {
		t.Run(f.name, func(t *testing.T) {
			codes, values := f.positives()
			check := func(x float32) {
				t.Helper()
				got, want := f.encode(x), f.refEncode(float64(x), codes, values)
				if got != want {
					t.Fatalf("encode(%v = %#08x) = %#x (%v), want %#x (%v)", x, math.Float32bits(x), got,
						refDecode(got, f.e, f.m, f.bias, f.fn), want, refDecode(want, f.e, f.m, f.bias, f.fn))
				}
			}
			// Every finite value, both signs, round-trips.
			for i, v := range values {
				check(float32(v))
				check(float32(-v))
				if got := f.encode(float32(v)); got != codes[i] {
					t.Fatalf("round trip of code %#x: got %#x", codes[i], got)
				}
			}
			// Midpoints (exact ties) and their float32 neighbours.
			for i := 1; i < len(values); i++ {
				mid := float32((values[i-1] + values[i]) / 2)
				if float64(mid) != (values[i-1]+values[i])/2 {
					continue // not representable in float32 (bf16 only: never happens)
				}
				check(mid)
				check(-mid)
				check(math.Nextafter32(mid, 0))
				check(math.Nextafter32(mid, float32(math.Inf(1))))
			}
			// Random float32s over the format's range and beyond.
			maxV := values[len(values)-1]
			for range 200000 {
				x := float32(math.Ldexp(rng.Float64(), rng.IntN(int(math.Log2(maxV))+40)-int(f.bias)-int(f.m)-20))
				if rng.IntN(2) == 0 {
					x = -x
				}
				check(x)
			}
			for range 20000 {
				x := math.Float32frombits(rng.Uint32())
				if x != x {
					continue
				}
				check(x)
			}
		})
	}
}

func TestEncodersSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	tests := []struct {
		name string
		got  uint32
		want uint32
	}{
		{"e4m3 449 saturates", uint32(Float32ToF8E4M3(449)), 0x7E},
		{"e4m3 1e9 saturates", uint32(Float32ToF8E4M3(1e9)), 0x7E},
		{"e4m3 +Inf saturates", uint32(Float32ToF8E4M3(inf)), 0x7E},
		{"e4m3 -Inf saturates", uint32(Float32ToF8E4M3(-inf)), 0xFE},
		{"e4m3 NaN", uint32(Float32ToF8E4M3(nan)), 0x7F},
		{"e4m3 -NaN", uint32(Float32ToF8E4M3(float32(math.Copysign(math.NaN(), -1)))), 0xFF},
		{"e4m3 tie at half the min subnormal → 0", uint32(Float32ToF8E4M3(1.0 / 1024)), 0x00},
		{"e4m3 just above half the min subnormal", uint32(Float32ToF8E4M3(math.Nextafter32(1.0/1024, 1))), 0x01},
		{"e4m3 1.0625 tie → 1", uint32(Float32ToF8E4M3(1.0625)), 0x38},
		{"e4m3 1.1875 tie → 1.25", uint32(Float32ToF8E4M3(1.1875)), 0x3A},
		{"e5m2 +Inf saturates", uint32(Float32ToF8E5M2(inf)), 0x7B},
		{"e5m2 60000 saturates", uint32(Float32ToF8E5M2(60000)), 0x7B},
		{"e5m2 NaN is NaN", uint32(Float32ToF8E5M2(nan)) & 0x7F, 0x7E},
		{"f16 65519 → max", uint32(Float32ToF16(65519)), 0x7BFF},
		{"f16 65520 → Inf", uint32(Float32ToF16(65520)), 0x7C00},
		{"f16 -Inf", uint32(Float32ToF16(-inf)), 0xFC00},
		{"bf16 1+2^-8 tie → 1", uint32(Float32ToBF16(1 + 1.0/256)), 0x3F80},
		{"bf16 1+3·2^-8 tie → 1+2^-6 (truncation would give 1+2^-7)", uint32(Float32ToBF16(1 + 3.0/256)), 0x3F82},
		{"bf16 max float32 → Inf", uint32(Float32ToBF16(math.MaxFloat32)), 0x7F80},
		{"bf16 -Inf", uint32(Float32ToBF16(-inf)), 0xFF80},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if v := BF16ToFloat32(Float32ToBF16(nan)); v == v {
		t.Errorf("bf16(NaN) decodes to %v, want NaN", v)
	}
	if v := F16ToFloat32(Float32ToF16(nan)); v == v {
		t.Errorf("f16(NaN) decodes to %v, want NaN", v)
	}
}
