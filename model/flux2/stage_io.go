package flux2

// activations are the values that pass between stages: graph nodes inside
// one graph (T = *Node), or the tensors the block-wise executor hands from
// one stage program to the next (T = *tensors.Tensor). The block-wise
// backward pass keeps the cotangents of the same values in one, too.
type activations[T comparable] struct {
	// x [B, N, InChannels] (latent tokens; inside a graph in the compute
	// dtype), ctx [B, L, ContextDim], t [B] and guidance [B] (nil without a
	// guidance embedder) are the batch inputs of the embedding.
	x, ctx, t, guidance T
	// cos, sin [B, L+N, hd/2] are the RoPE tables of the joint sequence.
	cos, sin T
	// img [B, N, D] and txt [B, L, D] are the token streams up to the join.
	img, txt T
	// vec [B, D] is the conditioning vector; modImg, modTxt [B, 6D] and
	// modSingle [B, 3D] are the shared modulations.
	vec, modImg, modTxt, modSingle T
	// h [B, L+N, D] is the joint stream from the join on (text first).
	h T
	// out [B, N, InChannels] is the predicted velocity.
	out T
	// numTxt is the number of text tokens L: set by the join inside one
	// graph, from the batch in the block-wise executor.
	numTxt int
}

// slot names one of the values of activations.
type slot int

const (
	xSlot slot = iota
	ctxSlot
	tSlot
	guidanceSlot
	cosSlot
	sinSlot
	imgSlot
	txtSlot
	vecSlot
	modImgSlot
	modTxtSlot
	modSingleSlot
	hSlot
	outSlot
)

// at returns the address of one value.
func (a *activations[T]) at(s slot) *T {
	switch s {
	case xSlot:
		return &a.x
	case ctxSlot:
		return &a.ctx
	case tSlot:
		return &a.t
	case guidanceSlot:
		return &a.guidance
	case cosSlot:
		return &a.cos
	case sinSlot:
		return &a.sin
	case imgSlot:
		return &a.img
	case txtSlot:
		return &a.txt
	case vecSlot:
		return &a.vec
	case modImgSlot:
		return &a.modImg
	case modTxtSlot:
		return &a.modTxt
	case modSingleSlot:
		return &a.modSingle
	case hSlot:
		return &a.h
	case outSlot:
		return &a.out
	}
	panicf("flux2: unknown activation slot %d", s)
	return nil
}

// get returns the values of slots, in order. Each must be there (see
// present for optional ones): a missing value would shift the program
// arguments that follow it.
func (a *activations[T]) get(slots []slot) []T {
	var zero T
	out := make([]T, len(slots))
	for i, s := range slots {
		if out[i] = *a.at(s); out[i] == zero {
			panicf("flux2: activation slot %d has no value", s)
		}
	}
	return out
}

// set stores values into slots, in order.
func (a *activations[T]) set(slots []slot, values []T) {
	if len(values) != len(slots) {
		panicf("flux2: %d values for %d activation slots", len(values), len(slots))
	}
	for i, s := range slots {
		*a.at(s) = values[i]
	}
}

// present returns the slots of which a holds a value: a batch without
// guidance has none.
func (a *activations[T]) present(slots []slot) []slot {
	var zero T
	var out []slot
	for _, s := range slots {
		if *a.at(s) != zero {
			out = append(out, s)
		}
	}
	return out
}

// stageIO is what a stage kind reads from the activations and what it
// stores there (see stage.forward), in program-argument order.
type stageIO struct {
	reads, writes []slot
	// replaced are the reads the stage's outputs take the place of: its
	// stream inputs, which the block-wise forward pass saves for the
	// backward (the other reads live for the whole step).
	replaced []slot
}

// io returns the stage kind's inputs and outputs.
func (k stageKind) io() stageIO {
	switch k {
	case embedStage:
		return stageIO{reads: []slot{xSlot, ctxSlot, tSlot, guidanceSlot},
			writes: []slot{imgSlot, txtSlot, vecSlot, modImgSlot, modTxtSlot, modSingleSlot}}
	case doubleStage:
		return stageIO{reads: []slot{imgSlot, txtSlot, modImgSlot, modTxtSlot, cosSlot, sinSlot},
			writes: []slot{imgSlot, txtSlot}, replaced: []slot{imgSlot, txtSlot}}
	case joinStage:
		return stageIO{reads: []slot{txtSlot, imgSlot}, writes: []slot{hSlot}, replaced: []slot{txtSlot, imgSlot}}
	case singleStage:
		return stageIO{reads: []slot{hSlot, modSingleSlot, cosSlot, sinSlot}, writes: []slot{hSlot}, replaced: []slot{hSlot}}
	case finalStage:
		return stageIO{reads: []slot{hSlot, vecSlot}, writes: []slot{outSlot}}
	}
	panicf("flux2: unknown stage kind %q", k)
	return stageIO{}
}
