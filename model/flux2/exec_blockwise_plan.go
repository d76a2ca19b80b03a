package flux2

// plannedStage is a stage of the list (stages.go) with the variables its
// program takes as arguments.
type plannedStage struct {
	stage
	vars stageWeights
}

// blockwisePlan is the model's stage list as the block-wise executor runs
// it, in forward order.
type blockwisePlan []plannedStage

// blockwisePlan lists the model's stages with their variables.
func (m *Model) blockwisePlan() blockwisePlan {
	stages := m.Config.stages()
	plan := make(blockwisePlan, len(stages))
	for k, s := range stages {
		plan[k].stage = s
		switch s.kind {
		case embedStage:
			plan[k].vars = m.stageOf("") // everything outside the blocks and the final layer
		case joinStage:
			// no weights
		default:
			plan[k].vars = m.stageOf(s.module + ".")
		}
	}
	return plan
}

// nextBlock returns the variables of the first block after stage k, the
// one block swap copies to the device while k runs (the zero stageWeights,
// which prefetches nothing, when there is none).
func (p blockwisePlan) nextBlock(k int) stageWeights {
	for j := k + 1; j < len(p); j++ {
		if p[j].isBlock() {
			return p[j].vars
		}
	}
	return stageWeights{}
}

// prevBlock returns the variables of the first block before stage k and
// not below stage stop: the block the backward pass runs next.
func (p blockwisePlan) prevBlock(k, stop int) stageWeights {
	for j := k - 1; j >= stop; j-- {
		if p[j].isBlock() {
			return p[j].vars
		}
	}
	return stageWeights{}
}

// lowestTrained returns the first stage with trainable variables: the
// backward pass stops there, since no gradient is wanted below it.
func (p blockwisePlan) lowestTrained() int {
	for k, s := range p {
		if len(s.vars.trainable) > 0 {
			return k
		}
	}
	return len(p)
}
