package flux2

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TrainBatch is a Batch with its flow-matching regression target.
type TrainBatch struct {
	*Batch
	// Target [B, N, InChannels] is the velocity to predict (noise − x0).
	Target *tensors.Tensor
	// Weight [B] optionally weights each sample's loss (nil: all 1).
	Weight *tensors.Tensor
	// Mask [B, N] optionally weights each target token's squared error
	// (loss masks: 1 inside the mask, dataset.mask_min outside; nil:
	// every token 1). See MaskedFlowMatchingLoss.
	Mask *tensors.Tensor
}

// FlowMatchingLoss is the training loss of a prediction out [B, N+R, C]
// against target [B, N, C]: the mean over samples of weight_b × the mean
// squared error of sample b's first N tokens (the target image's; R
// reference tokens follow them and are not scored), in float32. With no
// weights (nil) it is the MSE over all target elements.
func FlowMatchingLoss(out, target, weight *Node) *Node {
	if n := target.Shape().Dim(1); out.Shape().Dim(1) > n {
		out = SliceAxis(out, 1, AxisRange(0, n))
	}
	diff := Sub(ConvertDType(out, dtypes.Float32), ConvertDType(target, dtypes.Float32))
	perSample := ReduceMean(Square(diff), 1, 2) // [B]
	if weight != nil {
		perSample = Mul(perSample, ConvertDType(weight, dtypes.Float32))
	}
	return ReduceAllMean(perSample)
}

// MaskedFlowMatchingLoss is FlowMatchingLoss with per-token weights mask
// [B, N] (the target's tokens, in PackTokens order): sample b's error is
// the mask-weighted mean Σ_n m_bn·e_bn / Σ_n m_bn, where e_bn is the mean
// over channels of token n's squared error, then weighted by weight_b and
// averaged over samples as FlowMatchingLoss does. Normalising by the
// mask's sum per sample (OneTrainer's normalize_masked_area_loss;
// ai-toolkit scales its mask to mean 1, the same up to per-sample vs
// per-batch) keeps the loss on the scale of the unmasked one whatever the
// masked area, so the learning rate need not change with it; a sample
// whose mask sums to 0 contributes 0. With mask nil it is
// FlowMatchingLoss, the same graph.
func MaskedFlowMatchingLoss(out, target, weight, mask *Node) *Node {
	if mask == nil {
		return FlowMatchingLoss(out, target, weight)
	}
	if n := target.Shape().Dim(1); out.Shape().Dim(1) > n {
		out = SliceAxis(out, 1, AxisRange(0, n))
	}
	diff := Sub(ConvertDType(out, dtypes.Float32), ConvertDType(target, dtypes.Float32))
	perToken := ReduceMean(Square(diff), 2) // [B, N]
	m := ConvertDType(mask, dtypes.Float32)
	perSample := Div(ReduceSum(Mul(perToken, m), 1), MaxScalar(ReduceSum(m, 1), 1e-12)) // [B]
	if weight != nil {
		perSample = Mul(perSample, ConvertDType(weight, dtypes.Float32))
	}
	return ReduceAllMean(perSample)
}
