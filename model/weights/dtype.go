package weights

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The safetensors element types this package reads and writes.
const (
	F64     DType = "F64"
	F32     DType = "F32"
	F16     DType = "F16"
	BF16    DType = "BF16"
	F8E4M3  DType = "F8_E4M3" // OCP float8 e4m3fn: bias 7, no infinities, max ±448, NaN = S.1111.111.
	F8E5M2  DType = "F8_E5M2" // OCP float8 e5m2: bias 15, IEEE-like with ±Inf, max ±57344.
	I64     DType = "I64"
	I32     DType = "I32"
	I16     DType = "I16"
	I8      DType = "I8"
	U64     DType = "U64"
	U32     DType = "U32"
	U16     DType = "U16"
	U8      DType = "U8"
	Bool    DType = "BOOL"
	Invalid DType = ""
)

// allDTypes lists the known dtypes, for validation messages and tests.
func allDTypes() []DType {
	return []DType{F64, F32, F16, BF16, F8E4M3, F8E5M2, I64, I32, I16, I8, U64, U32, U16, U8, Bool}
}

// Size returns the size in bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case F8E4M3, F8E5M2, I8, U8, Bool:
		return 1
	}
	return 0
}

// Known reports whether d is one of the dtypes this package handles.
func (d DType) Known() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point type (including float8).
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16, F8E4M3, F8E5M2:
		return true
	}
	return false
}

// GoMLX returns the GoMLX dtype holding d's elements unchanged. The float8
// types have no GoMLX host representation in v0.26.0 and map to Uint8 (their
// raw codes).
func (d DType) GoMLX() dtypes.DType {
	switch d {
	case F64:
		return dtypes.Float64
	case F32:
		return dtypes.Float32
	case F16:
		return dtypes.Float16
	case BF16:
		return dtypes.BFloat16
	case F8E4M3, F8E5M2, U8:
		return dtypes.Uint8
	case I64:
		return dtypes.Int64
	case I32:
		return dtypes.Int32
	case I16:
		return dtypes.Int16
	case I8:
		return dtypes.Int8
	case U64:
		return dtypes.Uint64
	case U32:
		return dtypes.Uint32
	case U16:
		return dtypes.Uint16
	case Bool:
		return dtypes.Bool
	}
	return dtypes.InvalidDType
}

// FromGoMLX returns the safetensors dtype storing GoMLX dtype d.
func FromGoMLX(d dtypes.DType) (DType, error) {
	switch d {
	case dtypes.Float64:
		return F64, nil
	case dtypes.Float32:
		return F32, nil
	case dtypes.Float16:
		return F16, nil
	case dtypes.BFloat16:
		return BF16, nil
	case dtypes.Int64:
		return I64, nil
	case dtypes.Int32:
		return I32, nil
	case dtypes.Int16:
		return I16, nil
	case dtypes.Int8:
		return I8, nil
	case dtypes.Uint64:
		return U64, nil
	case dtypes.Uint32:
		return U32, nil
	case dtypes.Uint16:
		return U16, nil
	case dtypes.Uint8:
		return U8, nil
	case dtypes.Bool:
		return Bool, nil
	}
	return Invalid, fmt.Errorf("GoMLX dtype %s has no safetensors equivalent", d)
}
