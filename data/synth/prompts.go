package synth

// heldOut are shape/colour pairs in the style's palette that the default
// demo set (Generate(DefaultOptions())) does not show, one per shape
// (TestStylePromptsHeldOut checks it).
var heldOut = []Pair{
	{"blue", "circle"},
	{"red", "square"},
	{"yellow", "triangle"},
	{"green", "diamond"},
	{"blue", "star"},
	{"purple", "ring"},
	{"orange", "cross"},
	{"green", "hexagon"},
}

// StylePrompts returns the held-out evaluation prompts of the flora style:
// eight captions "a {colour} {shape} in flora style", one per shape, whose
// shape/colour pairs are not in the default demo set, so sampling them
// shows whether a style LoRA generalises beyond its training images.
func StylePrompts() []string {
	out := make([]string, len(heldOut))
	for i, p := range heldOut {
		out[i] = p.Caption()
	}
	return out
}
