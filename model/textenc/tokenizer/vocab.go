package tokenizer

// vocabulary maps token strings to ids and back, for the models' TokenID and
// Decode lookups.
type vocabulary struct {
	ids    map[string]int // token -> id
	tokens map[int]string // id -> token
}

func (v *vocabulary) idToToken(id int) (string, bool) {
	s, ok := v.tokens[id]
	return s, ok
}

func (v *vocabulary) tokenToID(tok string) (int, bool) {
	id, ok := v.ids[tok]
	return id, ok
}
