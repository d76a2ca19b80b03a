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
