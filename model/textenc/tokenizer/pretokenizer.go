package tokenizer

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// gpt2Pattern is the split pattern of the ByteLevel pre-tokenizer when use_regex is true.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// splitBehavior says what happens to the pieces a Split pattern matches.
type splitBehavior uint8

const (
	splitIsolated splitBehavior = iota // matches and the text between them become pieces
	splitRemoved                       // only the text between matches is kept
)

// preTokStep is one stage of pre-tokenization, applied to every current piece.
type preTokStep struct {
	re          *Regexp
	behavior    splitBehavior
	invert      bool
	prefixSpace bool // ByteLevel add_prefix_space: prepend ' ' to pieces not starting with one
}

// preTokenizer splits normalized text into the words that BPE encodes independently.
// byteLevel records a ByteLevel stage: the words' bytes are then written in the GPT-2
// byte alphabet before vocabulary lookup.
type preTokenizer struct {
	steps     []preTokStep
	byteLevel bool
}

// parsePreTokenizer reads the "pre_tokenizer" section. Supported: null, Split (Regex or
// String pattern; behaviors Isolated and Removed; invert), ByteLevel (add_prefix_space,
// use_regex) as the last stage, and Sequence of those.
func parsePreTokenizer(raw json.RawMessage) (*preTokenizer, error) {
	pt := &preTokenizer{}
	if err := pt.add(raw, 0); err != nil {
		return nil, err
	}
	return pt, nil
}

func (pt *preTokenizer) add(raw json.RawMessage, depth int) error {
	if isJSONNull(raw) {
		return nil
	}
	if depth > maxConfigDepth {
		return fmt.Errorf("pre_tokenizer: nesting deeper than %d", maxConfigDepth)
	}
	var head struct {
		Type           string            `json:"type"`
		Pretokenizers  []json.RawMessage `json:"pretokenizers"`
		Pattern        map[string]string `json:"pattern"`
		Behavior       string            `json:"behavior"`
		Invert         bool              `json:"invert"`
		AddPrefixSpace bool              `json:"add_prefix_space"`
		UseRegex       *bool             `json:"use_regex"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("pre_tokenizer: %w", err)
	}
	if pt.byteLevel {
		return fmt.Errorf("pre_tokenizer: a %s stage after ByteLevel is not supported (ByteLevel must come last)", head.Type)
	}
	switch head.Type {
	case "Sequence":
		for i, r := range head.Pretokenizers {
			if err := pt.add(r, depth+1); err != nil {
				return fmt.Errorf("pre_tokenizer Sequence[%d]: %w", i, err)
			}
		}
		return nil
	case "Split":
		step, err := parseSplit(head.Pattern, head.Behavior, head.Invert)
		if err != nil {
			return fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		pt.steps = append(pt.steps, step)
		return nil
	case "ByteLevel":
		useRegex := head.UseRegex == nil || *head.UseRegex
		step := preTokStep{prefixSpace: head.AddPrefixSpace, behavior: splitIsolated}
		if useRegex {
			re, err := CompileRegexp(gpt2Pattern, Oniguruma)
			if err != nil {
				return fmt.Errorf("pre_tokenizer ByteLevel: %w", err)
			}
			step.re = re
		}
		if step.re != nil || step.prefixSpace {
			pt.steps = append(pt.steps, step)
		}
		pt.byteLevel = true
		return nil
	}
	return fmt.Errorf("pre_tokenizer type %q is not supported (supported: Split, ByteLevel, Sequence)", head.Type)
}

func parseSplit(pattern map[string]string, behavior string, invert bool) (preTokStep, error) {
	var src string
	if r, ok := pattern["Regex"]; ok {
		src = r
	} else if s, ok := pattern["String"]; ok {
		src = regexp.QuoteMeta(s)
	} else {
		return preTokStep{}, fmt.Errorf("pattern must have a Regex or String field")
	}
	re, err := CompileRegexp(src, Oniguruma)
	if err != nil {
		return preTokStep{}, err
	}
	step := preTokStep{re: re, invert: invert}
	switch behavior {
	case "Isolated":
		step.behavior = splitIsolated
	case "Removed":
		step.behavior = splitRemoved
	default:
		return preTokStep{}, fmt.Errorf("split behavior %q is not supported (supported: Isolated, Removed)", behavior)
	}
	return step, nil
}

// split appends the words of s to dst.
func (pt *preTokenizer) split(s string, dst []string) []string {
	pieces := []string{s}
	for _, st := range pt.steps {
		var next []string
		for _, p := range pieces {
			next = st.apply(p, next)
		}
		pieces = next
	}
	for _, p := range pieces {
		if p != "" {
			dst = append(dst, p)
		}
	}
	return dst
}

func (st *preTokStep) apply(s string, dst []string) []string {
	if s == "" {
		return dst
	}
	if st.prefixSpace && s[0] != ' ' {
		s = " " + s
	}
	if st.re == nil {
		return append(dst, s)
	}
	last := 0
	emit := func(piece string, isMatch bool) {
		if piece == "" {
			return
		}
		if st.invert {
			isMatch = !isMatch
		}
		if st.behavior == splitRemoved && isMatch {
			return
		}
		dst = append(dst, piece)
	}
	for _, m := range st.re.findAll(s) {
		emit(s[last:m.start], false)
		emit(s[m.start:m.end], true)
		last = m.end
	}
	emit(s[last:], false)
	return dst
}
