package textenc

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/weights/weightstest"
)

// hostDequantized returns w quantized and dequantized on the host with the
// scheme (NF4 with double-quantized scales, as Load stores it).
func hostDequantized(t *testing.T, w []float32, rows, cols int, s quant.Scheme) []float32 {
	t.Helper()
	switch s {
	case quant.Int8:
		q, scale := quant.QuantizeInt8(w, rows, cols)
		return quant.DequantizeInt8(q, scale, rows, cols)
	case quant.FP8:
		c, scale := quant.QuantizeFP8(w, rows, cols)
		return quant.DequantizeFP8(c, scale, rows, cols)
	case quant.NF4:
		packed, absmax, err := quant.QuantizeNF4(w)
		if err != nil {
			t.Fatal(err)
		}
		codes, scales, offset := quant.QuantizeAbsmax(absmax)
		return quant.DequantizeNF4(packed, quant.DequantizeAbsmax(codes, scales, offset), len(w))
	}
	t.Fatalf("scheme %s", s)
	return nil
}

// TestQuantizedEncoder: with LoadOptions.Quantize the decoder layers'
// linear weights are held quantized, the output equals the float encoder
// run on the host-dequantized weights (the in-graph decoding is exact), and
// its error against the float reference output stays within the scheme's
// bound; Identity names the scheme (cache keys change) and the weights take
// less memory.
func TestQuantizedEncoder(t *testing.T) {
	cases, outputs := loadCases(t)
	// Bounds on rel L2 vs the float reference: what was measured, with 1.5x
	// headroom. They are loose because these models are 8–16 wide (a rounding
	// error is a large share of a dot product of 8 terms) and random, so
	// errors compound layer after layer (28 in the deep model); per-weight
	// error bounds are model/quant's tests, and exactness of the in-graph
	// decoding is checked above at 1e-5. Measured: tiny int8 1.1–1.3e-2,
	// fp8 4.4–5.9e-2, nf4 1.3–1.7e-1; deep (27 layers) int8 2.0e-2, fp8
	// 8.0e-2, nf4 4.0e-1.
	bounds := map[string]map[quant.Scheme]float64{
		"qwen3_tiny":       {quant.Int8: 0.02, quant.FP8: 0.09, quant.NF4: 0.26},
		"mistral3_tiny":    {quant.Int8: 0.02, quant.FP8: 0.07, quant.NF4: 0.2},
		"qwen3_deep_klein": {quant.Int8: 0.03, quant.FP8: 0.12, quant.NF4: 0.6},
	}
	for _, name := range []string{"qwen3_tiny", "mistral3_tiny", "qwen3_deep_klein"} {
		c := findCase(t, cases, name)
		stored := weightstest.ReadF32(t, filepath.Join(fixtureDir, c.Model))
		spec := fixtureSpec(t, c)
		floatEnc, err := Load(testutil.Backend(t), &mapSource{tensors: stored}, c.Model, spec, LoadOptions{DType: dtypes.Float32})
		if err != nil {
			t.Fatal(err)
		}
		floatBytes, floatID := floatEnc.MemoryBytes(), floatEnc.Identity()
		floatEnc.Release()
		for _, s := range []quant.Scheme{quant.Int8, quant.FP8, quant.NF4} {
			t.Run(name+"/"+string(s), func(t *testing.T) {
				enc, err := Load(testutil.Backend(t), &mapSource{tensors: stored}, c.Model, spec, LoadOptions{DType: dtypes.Float32, Quantize: s})
				if err != nil {
					t.Fatal(err)
				}
				defer enc.Release()
				for n := range enc.weights {
					if strings.HasSuffix(n, "_proj.weight") {
						t.Fatalf("%s is held unquantized", n)
					}
				}
				if !strings.Contains(enc.Identity(), "quant="+string(s)) || enc.Identity() == floatID {
					t.Errorf("identity %q does not name the scheme", enc.Identity())
				}
				if enc.MemoryBytes() >= floatBytes {
					t.Errorf("quantized weights take %d bytes, float %d", enc.MemoryBytes(), floatBytes)
				}
				out, err := enc.Encode(c.InputIDs, c.AttentionMask)
				if err != nil {
					t.Fatal(err)
				}

				// The float encoder on host-dequantized weights.
				deq := map[string]*tensors.Tensor{}
				src := &mapSource{tensors: stored}
				prefix, _ := DetectPrefix(src.Names())
				for n, v := range stored {
					dims := v.Shape().Dimensions
					if canonical, ok := strings.CutPrefix(n, prefix); ok && quantizable(canonical, dims) {
						w := tensors.MustCopyFlatData[float32](v)
						v = tensors.FromFlatDataAndDimensions(hostDequantized(t, w, dims[0], dims[1], s), dims...)
					}
					deq[n] = v
				}
				want, ref := encodeCase(t, spec, &mapSource{tensors: deq}, c, dtypes.Float32)
				defer ref.Release()
				if relL2, _ := relErrors(t, out, want); relL2 > 1e-5 {
					t.Errorf("in-graph dequantization differs from the host's: rel L2 %.2e", relL2)
				}
				relL2, _ := relErrors(t, out, outputs[c.Output])
				t.Logf("%s %s: rel L2 vs float reference %.2e, weights %d → %d bytes", name, s, relL2, floatBytes, enc.MemoryBytes())
				if relL2 > bounds[name][s] {
					t.Errorf("rel L2 %.2e above the %s bound %.2g", relL2, s, bounds[name][s])
				}
			})
		}
	}
}

// TestWeightBytes: the memory estimate equals what a loaded encoder holds,
// for float and every quantization scheme; the published encoders' sizes
// are what the presets count on (Mistral Small 3.1 up to layer 30 as NF4
// fits a 24 GB card, in bf16 it does not).
func TestWeightBytes(t *testing.T) {
	cases, _ := loadCases(t)
	for _, name := range []string{"qwen3_tiny", "mistral3_tiny"} {
		c := findCase(t, cases, name)
		stored := weightstest.ReadF32(t, filepath.Join(fixtureDir, c.Model))
		spec := fixtureSpec(t, c)
		for _, s := range []quant.Scheme{quant.None, quant.Int8, quant.FP8, quant.NF4} {
			enc, err := Load(testutil.Backend(t), &mapSource{tensors: stored}, c.Model, spec, LoadOptions{DType: dtypes.Float32, Quantize: s})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := spec.WeightBytes(s, 4), int64(enc.MemoryBytes()); got != want {
				t.Errorf("%s %s: estimate %d bytes, loaded encoder holds %d", name, s, got, want)
			}
			enc.Release()
		}
	}
	dev, err := SpecForVariant("dev")
	if err != nil {
		t.Fatal(err)
	}
	const gib = 1 << 30
	bf16, nf4 := float64(dev.WeightBytes(quant.None, 2))/gib, float64(dev.WeightBytes(quant.NF4, 2))/gib
	t.Logf("Mistral Small 3.1 layers 0–30: bf16 %.1f GiB, int8 %.1f GiB, nf4 %.1f GiB; encoding 8×512 tokens as nf4: %.1f GiB",
		bf16, float64(dev.WeightBytes(quant.Int8, 2))/gib, nf4, float64(dev.EncodeBytes(quant.NF4, 2, 8, 512))/gib)
	if bf16 < 24 || nf4 > 16 || float64(dev.EncodeBytes(quant.NF4, 2, 8, 512))/gib > 20 {
		t.Errorf("dev text encoder: bf16 %.1f GiB, nf4 %.1f GiB", bf16, nf4)
	}
}
