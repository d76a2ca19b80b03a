package textenc

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/testutil"
)

// BenchmarkEncodeTiny measures Encode of one prompt padded to 512 tokens
// with the tiny fixture models (5 layers, layers 1/3/4 stacked) on the test
// backend (pure Go unless FLORA_TEST_BACKEND says otherwise).
func BenchmarkEncodeTiny(b *testing.B) {
	for _, bc := range []struct {
		spec, folder string
		dtype        dtypes.DType
	}{
		{"tiny-qwen3", "qwen3-tiny", dtypes.Float32},
		{"tiny-qwen3", "qwen3-tiny", dtypes.BFloat16},
		{"tiny-mistral", "mistral3-tiny", dtypes.Float32},
	} {
		b.Run(bc.spec+"/"+bc.dtype.String(), func(b *testing.B) {
			spec, err := SpecByName(bc.spec)
			if err != nil {
				b.Fatal(err)
			}
			src := fixtureSource(b, bc.folder)
			e, err := Load(testutil.Backend(b), src, bc.folder, spec, LoadOptions{DType: bc.dtype})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Release()
			const l, n = MaxSequenceLength, 100
			ids, mask := make([]int32, l), make([]int32, l)
			for i := 0; i < n; i++ {
				p := i // right padding
				if spec.PadSide == PadLeft {
					p = l - n + i
				}
				ids[p], mask[p] = int32(20+i), 1
			}
			if _, err := e.Encode([][]int32{ids}, [][]int32{mask}); err != nil { // compile
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				out, err := e.Encode([][]int32{ids}, [][]int32{mask})
				if err != nil {
					b.Fatal(err)
				}
				out.FinalizeAll()
			}
		})
	}
}
