package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// maxTokenID bounds token ids read from files (real vocabularies are far below it).
const maxTokenID = 1 << 24

// hfFile mirrors the parts of a Hugging Face tokenizer.json that encoding and decoding use.
type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// ParseHF builds a Tokenizer from the bytes of a Hugging Face tokenizer.json with a BPE model.
func ParseHF(data []byte) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid tokenizer.json: %w", err)
	}
	m := f.Model
	if m.Type != "" && m.Type != "BPE" {
		return nil, fmt.Errorf("model type %q is not supported (only BPE)", m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("model has no vocab")
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("BPE dropout %v is not supported (it makes encoding random)", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("BPE continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("BPE end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	for tok, id := range m.Vocab {
		if id < 0 || id >= maxTokenID {
			return nil, fmt.Errorf("vocab token %q has id %d outside [0, %d)", tok, id, maxTokenID)
		}
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	norm, err := parseNormalizer(f.Normalizer, 0)
	if err != nil {
		return nil, err
	}
	pre, err := parsePreTokenizer(f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	if err := checkPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	t := &Tokenizer{normalize: norm, preTok: pre, byteLevel: newByteLevelTable()}
	t.decoder, t.decodeErr = parseDecoder(f.Decoder)
	var bl *byteLevelTable
	if pre.byteLevel {
		bl = t.byteLevel
	}
	bpe, err := newBPEModel(m.Vocab, merges, bl)
	if err != nil {
		return nil, err
	}
	bpe.ignoreMerges, bpe.byteFallback, bpe.fuseUnk = m.IgnoreMerges, m.ByteFallback, m.FuseUnk
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocab", *m.UnkToken)
		}
		bpe.unkID = id
	}
	t.model = bpe
	added := make([]AddedToken, 0, len(f.AddedTokens))
	for i, a := range f.AddedTokens {
		if a.ID < 0 || a.ID >= maxTokenID {
			return nil, fmt.Errorf("added_tokens[%d] %q has id %d outside [0, %d)", i, a.Content, a.ID, maxTokenID)
		}
		added = append(added, AddedToken(a))
	}
	t.added = newAddedVocab(added, norm)
	return t, nil
}

// parseMerges accepts both serializations of BPE merges: ["a b", ...] and [["a","b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		out := make([][2]string, len(pairs))
		for i, p := range pairs {
			if len(p) != 2 {
				return nil, fmt.Errorf("merges[%d] has %d parts, want 2", i, len(p))
			}
			out[i] = [2]string{p[0], p[1]}
		}
		return out, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("merges: neither a list of \"a b\" strings nor of [a, b] pairs: %w", err)
	}
	out := make([][2]string, len(lines))
	for i, l := range lines {
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("merges[%d] %q is not two tokens separated by one space", i, l)
		}
		out[i] = [2]string{a, b}
	}
	return out, nil
}

// checkPostProcessor accepts the post-processors whose only effect on ids is adding template
// tokens with add_special_tokens=True, which Encode never does; others are rejected.
func checkPostProcessor(raw json.RawMessage) error {
	if isJSONNull(raw) {
		return nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("post_processor: %w", err)
	}
	switch head.Type {
	case "ByteLevel", "TemplateProcessing", "Sequence", "BertProcessing", "RobertaProcessing":
		return nil
	}
	return fmt.Errorf("post_processor type %q is not supported", head.Type)
}
