package multidevice

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads better unqualified.
)

// lossAndGradients is the single-program graph: the loss followed by its
// gradients with respect to the trainable parameters. AutoSharding and the
// one-device program use it unchanged.
func lossAndGradients(layout Layout, loss LossFunc) func(in []*Node) []*Node {
	return func(in []*Node) []*Node {
		batch, trainable, frozen := layout.split(in)
		l := loss(batch, trainable, frozen)
		return append([]*Node{l}, Gradient(l, trainable...)...)
	}
}
