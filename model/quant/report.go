package quant

import (
	"math"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
)

// GroupReport is the quantization accuracy of one group of layers.
type GroupReport struct {
	Group  string
	Layers int
	Params int64
	// RelError is the relative L2 error ‖Ŵ − W‖/‖W‖ over the group, MaxRelError
	// the worst single layer's.
	RelError, MaxRelError float64
	// BytesBefore is the stored size; BytesAfter the quantized size (codes
	// plus scales).
	BytesBefore, BytesAfter int64
}

// reportGroup names the layer group of an official weight.
func reportGroup(name string) string {
	if g := flux2.LinearGroup(strings.TrimSuffix(name, ".weight")); g != "" {
		return g
	}
	return "kept (embedders, modulation, final, norms)"
}

// Report quantizes every weight of a checkpoint that opts selects, one
// tensor at a time on the host, and reports the reconstruction error and
// the sizes per layer group. Weights opts keeps are counted as kept.
func Report(src flux2.TensorSource, names []string, storedBytes func(string) int64, opts Options) ([]GroupReport, error) {
	type acc struct {
		GroupReport
		num, den float64
	}
	groups := map[string]*acc{}
	for _, n := range names {
		dims, ok := src.Dims(n)
		if !ok {
			continue
		}
		g := reportGroup(n)
		if !opts.Quantizes(n, dims) {
			g = "kept (embedders, modulation, final, norms)"
		}
		a, ok := groups[g]
		if !ok {
			a = &acc{GroupReport: GroupReport{Group: g}}
			groups[g] = a
		}
		count := int64(1)
		for _, d := range dims {
			count *= int64(d)
		}
		a.Layers++
		a.Params += count
		a.BytesBefore += storedBytes(n)
		if !opts.Quantizes(n, dims) {
			a.BytesAfter += storedBytes(n)
			continue
		}
		t, err := src.ReadAs(n, dtypes.Float32)
		if err != nil {
			return nil, err
		}
		w, err := tensors.CopyFlatData[float32](t)
		t.FinalizeAll()
		if err != nil {
			return nil, err
		}
		rows, cols := dims[0], dims[1]
		var deq []float32
		switch opts.Scheme {
		case Int8:
			q, s := QuantizeInt8(w, rows, cols)
			deq = DequantizeInt8(q, s, rows, cols)
			a.BytesAfter += int64(len(q)) + 4*int64(len(s))
		case FP8:
			c, s := QuantizeFP8(w, rows, cols)
			deq = DequantizeFP8(c, s, rows, cols)
			a.BytesAfter += int64(len(c)) + 4*int64(len(s))
		case NF4:
			p, am, err := QuantizeNF4(w)
			if err != nil {
				return nil, err
			}
			scaleBytes := 4 * int64(len(am))
			if opts.DoubleQuant {
				codes, scales, off := QuantizeAbsmax(am)
				am = DequantizeAbsmax(codes, scales, off)
				scaleBytes = int64(len(codes)) + 4*int64(len(scales)) + 4
			}
			deq = DequantizeNF4(p, am, len(w))
			a.BytesAfter += int64(len(p)) + scaleBytes
		}
		var num, den float64
		for i := range w {
			d := float64(deq[i]) - float64(w[i])
			num += d * d
			den += float64(w[i]) * float64(w[i])
		}
		a.num += num
		a.den += den
		if den > 0 {
			a.MaxRelError = math.Max(a.MaxRelError, math.Sqrt(num/den))
		}
	}
	out := make([]GroupReport, 0, len(groups))
	for _, a := range groups {
		if a.den > 0 {
			a.RelError = math.Sqrt(a.num / a.den)
		}
		out = append(out, a.GroupReport)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, nil
}
