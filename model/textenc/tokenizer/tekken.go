package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// tekkenFile mirrors Mistral's tekken.json (mistral-common format): tiktoken ranks as
// base64 byte strings, a split pattern, and the control tokens that occupy the first
// default_num_special_tokens ids.
type tekkenFile struct {
	Config struct {
		Pattern                 string `json:"pattern"`
		NumVocabTokens          int    `json:"num_vocab_tokens"`
		DefaultVocabSize        int    `json:"default_vocab_size"`
		DefaultNumSpecialTokens *int   `json:"default_num_special_tokens"`
		Version                 string `json:"version"`
	} `json:"config"`
	Vocab []struct {
		Rank       int    `json:"rank"`
		TokenBytes string `json:"token_bytes"`
	} `json:"vocab"`
	SpecialTokens []struct {
		Rank     int    `json:"rank"`
		TokenStr string `json:"token_str"`
	} `json:"special_tokens"`
}

// tekkenLegacySpecialTokens are the control tokens (ids 0..19) that mistral-common assumes
// for tekken files of version v7 or older that carry no "special_tokens" list.
var tekkenLegacySpecialTokens = []string{
	"<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
	"[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]",
	"[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
	"[TOOL_CONTENT]",
}

// isTekkenJSON reports whether data looks like a tekken.json (top-level "config" and a
// "vocab" list) rather than a tokenizer.json (whose "vocab" lives under "model").
func isTekkenJSON(data []byte) bool {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return false
	}
	_, hasConfig := top["config"]
	v, hasVocab := top["vocab"]
	return hasConfig && hasVocab && len(bytes.TrimSpace(v)) > 0 && bytes.TrimSpace(v)[0] == '['
}

// ParseTekken builds a Tokenizer from the bytes of a Mistral tekken.json. The result
// behaves like the tokenizer transformers builds from the same file: control tokens are
// added tokens (matched in the input text), the pattern splits words, and ordinary tokens
// get ids rank + default_num_special_tokens. The vocabulary is cut to default_vocab_size,
// as mistral-common does. Ranks may have gaps (pruned test fixtures); each must be unique
// and the 256 single bytes must be present.
func ParseTekken(data []byte) (*Tokenizer, error) {
	var f tekkenFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid tekken.json: %w", err)
	}
	c := f.Config
	if c.Pattern == "" {
		return nil, fmt.Errorf("tekken.json: config.pattern is missing")
	}
	re, err := CompileRegexp(c.Pattern, FancyRegex)
	if err != nil {
		return nil, fmt.Errorf("tekken.json: %w", err)
	}
	specials, err := tekkenSpecials(&f)
	if err != nil {
		return nil, err
	}
	numSpecial := len(specials)
	inner := c.DefaultVocabSize - numSpecial
	if c.DefaultVocabSize <= 0 {
		inner = maxTokenID
	}
	if inner <= 0 || c.DefaultVocabSize > maxTokenID {
		return nil, fmt.Errorf("tekken.json: default_vocab_size %d does not fit %d special tokens", c.DefaultVocabSize, numSpecial)
	}
	bl := newByteLevelTable()
	m := &rankBPE{
		ranks: make(map[string]int, len(f.Vocab)),
		vocabulary: vocabulary{
			ids:    make(map[string]int, len(f.Vocab)),
			tokens: make(map[int]string, len(f.Vocab)),
		},
		idOffset: numSpecial,
		cache:    newWordCache(),
	}
	lastRank := -1
	for i, v := range f.Vocab {
		if v.Rank <= lastRank {
			return nil, fmt.Errorf("tekken.json: vocab[%d] rank %d is not increasing", i, v.Rank)
		}
		lastRank = v.Rank
		if v.Rank >= inner {
			break // mistral-common keeps only the first default_vocab_size - num_special ranks
		}
		b, err := base64.StdEncoding.DecodeString(v.TokenBytes)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("tekken.json: vocab[%d] token_bytes is not non-empty base64", i)
		}
		if v.Rank < 256 && (len(b) != 1 || int(b[0]) != v.Rank) {
			return nil, fmt.Errorf("tekken.json: rank %d must be the single byte %d", v.Rank, v.Rank)
		}
		if _, dup := m.ranks[string(b)]; dup {
			return nil, fmt.Errorf("tekken.json: vocab[%d] repeats a token", i)
		}
		m.ranks[string(b)] = v.Rank
		s := bl.encode(string(b))
		m.tokens[v.Rank+numSpecial] = s
		m.ids[s] = v.Rank + numSpecial
	}
	for b := 0; b < 256; b++ {
		if _, ok := m.ranks[string([]byte{byte(b)})]; !ok {
			return nil, fmt.Errorf("tekken.json: single byte %d is missing from the vocab", b)
		}
	}
	added := make([]AddedToken, len(specials))
	for i, s := range specials {
		added[i] = AddedToken{ID: i, Content: s, Special: true}
	}
	return &Tokenizer{
		preTok:    &preTokenizer{steps: []preTokStep{{re: re, behavior: splitIsolated}}, byteLevel: true},
		model:     m,
		added:     newAddedVocab(added, nil),
		byteLevel: bl,
		decoder:   decoderByteLevel,
	}, nil
}

// maxTekkenSpecialTokens bounds default_num_special_tokens: each one becomes an added token,
// so a small file asking for millions would take gigabytes to load.
const maxTekkenSpecialTokens = 1 << 16

// tekkenSpecials returns the control-token strings in id order, padded with <SPECIAL_i>
// fillers up to default_num_special_tokens, following mistral-common.
func tekkenSpecials(f *tekkenFile) ([]string, error) {
	var names []string
	if f.SpecialTokens == nil {
		if v := tekkenVersion(f.Config.Version); v > 7 {
			return nil, fmt.Errorf("tekken.json: version %s needs a special_tokens list", f.Config.Version)
		}
		names = append(names, tekkenLegacySpecialTokens...)
	} else {
		st := append(f.SpecialTokens[:0:0], f.SpecialTokens...)
		sort.Slice(st, func(i, j int) bool { return st[i].Rank < st[j].Rank })
		seen := make(map[string]bool, len(st))
		for i, s := range st {
			if s.Rank != i {
				return nil, fmt.Errorf("tekken.json: special token ranks must be 0..%d without gaps (found %d at position %d)", len(st)-1, s.Rank, i)
			}
			if seen[s.TokenStr] || s.TokenStr == "" {
				return nil, fmt.Errorf("tekken.json: special token %q is empty or repeated", s.TokenStr)
			}
			seen[s.TokenStr] = true
			names = append(names, s.TokenStr)
		}
	}
	num := len(names)
	if f.Config.DefaultNumSpecialTokens != nil {
		num = *f.Config.DefaultNumSpecialTokens
	}
	if num < len(names) {
		return nil, fmt.Errorf("tekken.json: default_num_special_tokens %d is below the %d listed special tokens", num, len(names))
	}
	if num > maxTekkenSpecialTokens {
		return nil, fmt.Errorf("tekken.json: default_num_special_tokens %d is above the limit of %d (Mistral's files have 1000)", num, maxTekkenSpecialTokens)
	}
	for i := len(names); i < num; i++ {
		names = append(names, "<SPECIAL_"+strconv.Itoa(i)+">")
	}
	return names, nil
}

// tekkenVersion parses "v7" → 7; unknown forms give 0.
func tekkenVersion(v string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil {
		return 0
	}
	return n
}
