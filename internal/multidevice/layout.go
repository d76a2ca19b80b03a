package multidevice

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads better unqualified.
)

// Replicated is the FrozenSplit value of a frozen weight every device holds
// whole.
const Replicated = -1

// LossFunc builds the scalar loss of a batch. It must be a mean over the
// examples of the batch (axis 0 of every batch input): under SPMD each device
// computes it on its own equal slice, and the mean of those is the mean over
// the global batch. batch, trainable and frozen are in Layout order; the
// frozen weights arrive whole, gathered if they are split.
type LossFunc func(batch, trainable, frozen []*Node) *Node

// Layout says how many inputs of each kind a LossFunc takes and how the
// frozen weights are placed.
type Layout struct {
	// Batch is the number of batch inputs, each split on axis 0 over the
	// devices (its size must be a multiple of the device count).
	Batch int
	// Trainable is the number of trainable parameters. Every device holds
	// them whole, and the program returns their gradients.
	Trainable int
	// FrozenSplit has one entry per frozen weight: the axis it is split on
	// over the devices (each device holds 1/N of it), or Replicated.
	FrozenSplit []int
}

func (l Layout) numInputs() int { return l.Batch + l.Trainable + len(l.FrozenSplit) }

// split cuts a program's inputs into batch, trainable and frozen.
func (l Layout) split(in []*Node) (batch, trainable, frozen []*Node) {
	return in[:l.Batch], in[l.Batch : l.Batch+l.Trainable], in[l.Batch+l.Trainable:]
}

func (l Layout) validate() error {
	if l.Batch < 1 {
		return fmt.Errorf("layout: need at least one batch input, got %d", l.Batch)
	}
	if l.Trainable < 1 {
		return fmt.Errorf("layout: need at least one trainable parameter, got %d", l.Trainable)
	}
	for i, a := range l.FrozenSplit {
		if a < Replicated {
			return fmt.Errorf("layout: frozen weight #%d split on axis %d", i, a)
		}
	}
	return nil
}

// Strategy is how a multi-device program is partitioned.
type Strategy int

const (
	// AutoSharding writes the graph for the global batch and lets XLA's
	// Shardy partitioner insert the collectives.
	AutoSharding Strategy = iota
	// SPMD runs the graph per device on its shard, with explicit AllReduce
	// collectives.
	SPMD
)

// String is the strategy's name.
func (s Strategy) String() string {
	switch s {
	case AutoSharding:
		return "AutoSharding"
	case SPMD:
		return "SPMD"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}
