package multidevice

import (
	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads better unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// spmdLossAndGradients is the per-device graph of the SPMD strategy. Its
// first input is the device's index in the mesh ([1] int32, a shard of
// iota(N)); the rest are the device's shards in Layout order. The local
// loss and gradients are averaged over the devices with one AllReduce.
func spmdLossAndGradients(layout Layout, n int, loss LossFunc) func(in []*Node) []*Node {
	return func(in []*Node) []*Node {
		index := Reshape(in[0]) // [1] → scalar
		batch, trainable, frozen := layout.split(in[1:])
		whole := make([]*Node, len(frozen))
		for i, w := range frozen {
			whole[i] = w
			if axis := layout.FrozenSplit[i]; axis != Replicated {
				whole[i] = gather(w, axis, n, index)
			}
		}
		l := loss(batch, trainable, whole)
		outs := append([]*Node{l}, Gradient(l, trainable...)...)
		outs = index.Graph().Distributed().AllReduce(outs, backends.ReduceOpSum)
		for i := range outs {
			outs[i] = DivScalar(outs[i], float64(n))
		}
		return outs
	}
}

// gather rebuilds a weight split on axis over n devices from this device's
// shard: the shard is written at its offset into zeros of the whole shape
// and the n partial tensors are summed with AllReduce (GoMLX v0.26 has no
// AllGather).
func gather(shard *Node, axis, n int, index *Node) *Node {
	g := shard.Graph()
	dims := shard.Shape().Dimensions
	wholeDims := append([]int(nil), dims...)
	wholeDims[axis] *= n
	starts := make([]*Node, len(dims))
	for i := range starts {
		starts[i] = ScalarZero(g, index.DType())
	}
	starts[axis] = MulScalar(index, dims[axis])
	padded := DynamicUpdateSlice(Zeros(g, shapes.Make(shard.DType(), wholeDims...)), shard, starts)
	return g.Distributed().AllReduceOne(StopGradient(padded), backends.ReduceOpSum)
}
