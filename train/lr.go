package train

import (
	"fmt"
	"math"
)

// LRSchedule gives the learning rate of each optimizer step.
type LRSchedule struct {
	// Kind is constant, linear or cosine (the decay after warmup).
	Kind string
	// Base is the peak learning rate, Min the floor of linear/cosine decay.
	Base, Min float64
	// Warmup steps ramp linearly from Base/Warmup to Base.
	Warmup int
	// Total is the number of optimizer steps of the run.
	Total int
}

// At returns the learning rate of optimizer step `step` (0-based).
func (s LRSchedule) At(step int) (float64, error) {
	if s.Warmup > 0 && step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup), nil
	}
	span := s.Total - s.Warmup
	frac := 0.0
	if span > 1 {
		frac = math.Min(1, float64(step-s.Warmup)/float64(span-1))
	}
	switch s.Kind {
	case "constant":
		return s.Base, nil
	case "linear":
		return s.Base + (s.Min-s.Base)*frac, nil
	case "cosine":
		return s.Min + (s.Base-s.Min)*0.5*(1+math.Cos(math.Pi*frac)), nil
	}
	return 0, fmt.Errorf("unknown learning-rate schedule %q", s.Kind)
}
