package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/lora"
)

// TestBatchLossMask: the samples' token weights reach the batch as
// TrainBatch.Mask [B, N] (ones for a sample without a mask), in the
// source's order; a batch whose weights are all 1 has no mask (the
// unmasked programs run); a mask of the wrong length is an error naming
// the sample.
func TestBatchLossMask(t *testing.T) {
	m, adapter, _ := tinyModelAndAdapter(t, lora.Spec{Preset: lora.PresetBlocks, Rank: 2})
	if err := lora.Attach(m, adapter, 1, true); err != nil {
		t.Fatal(err)
	}
	half := []float32{1, 1, 0.25, 1, 1, 0.25} // 2×3 tokens, right column outside
	tests := []struct {
		name    string
		masks   [][]float32 // per sample; nil: none
		want    [][]float32 // the batch's rows by sample; nil: no tb.Mask
		wantErr string
	}{
		{"no masks", [][]float32{nil, nil}, nil, ""},
		{"all inside", [][]float32{{1, 1, 1, 1, 1, 1}, nil}, nil, ""},
		{"one masked", [][]float32{half, nil}, [][]float32{half, {1, 1, 1, 1, 1, 1}}, ""},
		{"both masked", [][]float32{half, {0, 0, 0, 1, 1, 1}}, [][]float32{half, {0, 0, 0, 1, 1, 1}}, ""},
		{"wrong length", [][]float32{{1, 0.5}, nil}, nil, "sample s0: loss mask of 2 token weights for 6 tokens (2x3)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			samples := testSamples(m.Config, 2)
			samples[1].H, samples[1].W = 2, 3 // one bucket (same latent size)
			for i := range samples {
				samples[i].Key = []string{"s0", "s1"}[i]
				samples[i].Mask = tc.masks[i]
			}
			tr, err := NewTrainer(m, mustSource(t, samples), testOptions(3))
			if err != nil {
				t.Fatal(err)
			}
			tb, _, err := tr.nextBatch()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if tb.Mask != nil {
					t.Fatalf("mask %v, want none", tb.Mask)
				}
				return
			}
			if d := tb.Mask.Shape().Dimensions; !slices.Equal(d, []int{2, 6}) {
				t.Fatalf("mask dimensions %v, want [2 6]", d)
			}
			got := tensors.MustCopyFlatData[float32](tb.Mask)
			// The source may reorder the batch.
			rows := [][]float32{got[:6], got[6:]}
			if !(slices.Equal(rows[0], tc.want[0]) && slices.Equal(rows[1], tc.want[1]) ||
				slices.Equal(rows[0], tc.want[1]) && slices.Equal(rows[1], tc.want[0])) {
				t.Errorf("mask rows %v, want %v (any order)", rows, tc.want)
			}
		})
	}
}

// TestSampleError: validation's per-sample error on a hand-computed case
// (3 tokens of 2 channels, errors e = 2.5, 0, 9): unmasked the mean
// 11.5/3, masked Σ m·e / Σ m.
func TestSampleError(t *testing.T) {
	pred := []float32{1, 2, 0, 0, 3, 3}
	target := make([]float32, 6)
	tests := []struct {
		mask []float32
		want float64
	}{
		{nil, 11.5 / 3},
		{[]float32{1, 1, 1}, 11.5 / 3},
		{[]float32{1, 0.5, 0}, 2.5 / 1.5},
		{[]float32{0, 0, 0.5}, 9},
		{[]float32{0, 0, 0}, 0},
	}
	for _, tc := range tests {
		if got := sampleError(pred, target, 3, 2, tc.mask); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("mask %v: error %.9g, want %.9g", tc.mask, got, tc.want)
		}
	}
}

// TestValidationLossMask: a mask of ones gives the unmasked validation
// loss; a partial mask another one.
func TestValidationLossMask(t *testing.T) {
	m, _, _ := tinyModelAndAdapter(t, lora.Spec{Preset: lora.PresetBlocks, Rank: 2})
	samples := testSamples(m.Config, 2)
	_, plain, err := ValidationLoss(m, samples, DefaultValidationTimes, 1, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		samples[i].Mask = []float32{1, 1, 1, 1, 1, 1}
	}
	_, ones, err := ValidationLoss(m, samples, DefaultValidationTimes, 1, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ones-plain) > 1e-9*plain {
		t.Errorf("mask of ones: %.9g, unmasked %.9g", ones, plain)
	}
	samples[0].Mask = []float32{1, 0, 0, 1, 0, 0}
	_, masked, err := ValidationLoss(m, samples, DefaultValidationTimes, 1, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation loss unmasked %.6f, masked %.6f", plain, masked)
	if masked == plain {
		t.Error("a partial mask did not change the validation loss")
	}
}
