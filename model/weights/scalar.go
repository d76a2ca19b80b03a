package weights

import (
	"math"
)

// This file holds the scalar conversions between float32 and the narrow float
// formats stored in checkpoints. Encoders round to nearest, ties to even.

// BF16ToFloat32 decodes a bfloat16 bit pattern (exact).
func BF16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// Float32ToBF16 encodes f as bfloat16, rounding to nearest with ties to even
// (GoMLX's bfloat16.FromFloat32 truncates instead). Values beyond the largest
// bfloat16 round to ±Inf, as in IEEE arithmetic; NaN stays a (quiet) NaN.
func Float32ToBF16(f float32) uint16 {
	bits := math.Float32bits(f)
	if f != f { // NaN: keep the sign and the top mantissa bits, force quiet.
		return uint16(bits>>16) | 0x0040
	}
	rounding := uint32(0x7FFF) + (bits>>16)&1
	return uint16((bits + rounding) >> 16)
}

// F16ToFloat32 decodes an IEEE binary16 bit pattern (exact).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1F
	mant := uint32(h) & 0x3FF
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant · 2⁻²⁴
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	case exp == 0x1F: // Inf or NaN
		return math.Float32frombits(sign | 0x7F800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToF16 encodes f as IEEE binary16, rounding to nearest with ties to
// even. Magnitudes that round beyond 65504 become ±Inf; NaN stays NaN.
func Float32ToF16(f float32) uint16 {
	return uint16(encodeMinifloat(f, f16Format))
}

// F8E4M3ToFloat32 decodes an OCP float8 e4m3fn code (exact). The format has
// no infinities; codes 0x7F and 0xFF are NaN and the largest finite
// magnitude is 448 (0x7E).
func F8E4M3ToFloat32(c uint8) float32 { return decodeMinifloat(uint32(c), e4m3Format) }

// F8E5M2ToFloat32 decodes an OCP float8 e5m2 code (exact): 0x7C is +Inf,
// 0x7D..0x7F are NaN, the largest finite magnitude is 57344 (0x7B).
func F8E5M2ToFloat32(c uint8) float32 { return decodeMinifloat(uint32(c), e5m2Format) }

// Float32ToF8E4M3 encodes f as float8 e4m3fn, rounding to nearest with ties
// to even and saturating: finite values beyond ±448 and ±Inf become ±448
// (like CUDA's __NV_SATFINITE mode); NaN becomes 0x7F (sign kept).
func Float32ToF8E4M3(f float32) uint8 { return uint8(encodeMinifloat(f, e4m3Format)) }

// Float32ToF8E5M2 encodes f as float8 e5m2, rounding to nearest with ties to
// even and saturating: finite values beyond ±57344 and ±Inf become ±57344;
// NaN becomes a quiet NaN (0x7E, sign kept).
func Float32ToF8E5M2(f float32) uint8 { return uint8(encodeMinifloat(f, e5m2Format)) }

// minifloat describes a small binary float format: sign bit, expBits of
// exponent with the given bias, mantBits of mantissa.
type minifloat struct {
	expBits, mantBits uint
	bias              int
	// maxFinite is the largest finite positive code.
	maxFinite uint32
	// hasInf: the all-ones exponent with zero mantissa is Inf (IEEE style);
	// otherwise (e4m3fn) only the all-ones code is NaN and other codes with
	// the all-ones exponent are finite.
	hasInf bool
	// saturate: overflow and Inf encode as ±maxFinite instead of ±Inf.
	saturate bool
	// nan is the positive NaN code the encoder produces.
	nan uint32
}

// The formats encoded and decoded here: IEEE binary16, OCP e4m3fn and e5m2.
const (
	f16Format formatID = iota
	e4m3Format
	e5m2Format
)

// formatID names one of the minifloat formats (constants keep the format
// descriptions immutable).
type formatID int

func (id formatID) spec() minifloat {
	switch id {
	case e4m3Format:
		return minifloat{expBits: 4, mantBits: 3, bias: 7, maxFinite: 0x7E, saturate: true, nan: 0x7F}
	case e5m2Format:
		return minifloat{expBits: 5, mantBits: 2, bias: 15, maxFinite: 0x7B, hasInf: true, saturate: true, nan: 0x7E}
	}
	return minifloat{expBits: 5, mantBits: 10, bias: 15, maxFinite: 0x7BFF, hasInf: true, nan: 0x7E00}
}

func (m minifloat) signBit() uint32 { return 1 << (m.expBits + m.mantBits) }

// decodeMinifloat decodes code c of format m to float32 (exact: every such
// value is representable in float32).
func decodeMinifloat(c uint32, id formatID) float32 {
	m := id.spec()
	sign := float32(1)
	if c&m.signBit() != 0 {
		sign = -1
	}
	mag := c &^ m.signBit()
	expAll := uint32(1)<<m.expBits - 1
	exp := mag >> m.mantBits
	mant := mag & (1<<m.mantBits - 1)
	switch {
	case m.hasInf && exp == expAll && mant == 0:
		return sign * float32(math.Inf(1))
	case m.hasInf && exp == expAll, !m.hasInf && mag == 1<<(m.expBits+m.mantBits)-1:
		return float32(math.NaN())
	case exp == 0:
		return sign * float32(math.Ldexp(float64(mant), 1-m.bias-int(m.mantBits)))
	}
	return sign * float32(math.Ldexp(float64(mant|1<<m.mantBits), int(exp)-m.bias-int(m.mantBits)))
}

// encodeMinifloat rounds f to the nearest value of format m, ties to even.
func encodeMinifloat(f float32, id formatID) uint32 {
	m := id.spec()
	var sign uint32
	if math.Signbit(float64(f)) {
		sign = m.signBit()
	}
	v := math.Abs(float64(f))
	switch {
	case v != v:
		return sign | m.nan
	case v == 0:
		return sign
	case math.IsInf(v, 1):
		return sign | m.overflow()
	}
	minNormalExp := 1 - m.bias
	_, e := math.Frexp(v) // v = frac·2^e, frac in [0.5, 1)
	e--                   // v = 1.x · 2^e
	var code uint32
	if e < minNormalExp {
		// Subnormal range: the unit is 2^(minNormalExp-mantBits). A result of
		// 2^mantBits is the smallest normal, which is also its code.
		code = uint32(math.RoundToEven(math.Ldexp(v, int(m.mantBits)-minNormalExp)))
	} else {
		// q in [2^mantBits, 2^(mantBits+1)]; the top value carries into the
		// exponent through the addition below.
		q := uint32(math.RoundToEven(math.Ldexp(v, int(m.mantBits)-e)))
		if e+m.bias > int(uint32(1)<<m.expBits) { // far beyond the range; avoid shifting garbage
			return sign | m.overflow()
		}
		code = uint32(e+m.bias)<<m.mantBits + q - 1<<m.mantBits
	}
	if code > m.maxFinite {
		return sign | m.overflow()
	}
	return sign | code
}

// overflow is the positive code for values beyond the largest finite one.
func (m minifloat) overflow() uint32 {
	if m.saturate {
		return m.maxFinite
	}
	return m.maxFinite + 1 // the Inf code right after the largest finite one
}
