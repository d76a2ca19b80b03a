package varname

// Suffixes of the variables a quantized weight "M.weight" is stored as
// ("M.weight.int8", ...; model/quant documents shapes and dtypes).
const (
	// QuantInt8 holds int8 codes [out, in].
	QuantInt8 = ".int8"
	// QuantFP8 holds e4m3fn codes [out, in] as bytes.
	QuantFP8 = ".fp8"
	// QuantNF4 holds NF4 codes [out, in/2], two a byte.
	QuantNF4 = ".nf4"
	// QuantScale holds the per-row scales [out] of int8 and fp8 codes.
	QuantScale = ".scale"
	// QuantAbsmax holds the NF4 per-block scales [blocks].
	QuantAbsmax = ".absmax"
	// QuantAbsmaxQ holds double-quantized NF4 block scales [blocks] (int8).
	QuantAbsmaxQ = ".absmax_q"
	// QuantAbsmaxScale holds the scales of QuantAbsmaxQ [blocks/256].
	QuantAbsmaxScale = ".absmax_scale"
	// QuantAbsmaxOffset holds the offset [] of QuantAbsmaxQ.
	QuantAbsmaxOffset = ".absmax_offset"
)

// QuantSuffixes lists every quantized-storage suffix.
func QuantSuffixes() []string {
	return []string{QuantInt8, QuantFP8, QuantNF4, QuantScale, QuantAbsmax, QuantAbsmaxQ, QuantAbsmaxScale, QuantAbsmaxOffset}
}
