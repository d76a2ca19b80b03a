package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
)

// Tokenizer encodes text to token ids and back, reproducing the Hugging Face `tokenizers`
// pipeline for byte-level BPE: added tokens are cut out first, the rest is normalized,
// pre-tokenized and BPE-encoded word by word. It is safe for concurrent use.
type Tokenizer struct {
	source    string // file it was loaded from, for error messages
	normalize normalizer
	preTok    *preTokenizer
	model     model
	added     *addedVocab
	byteLevel *byteLevelTable
	decoder   decoderKind
	decodeErr error // set when the file's decoder is unsupported; reported by Decode
}

// maxFileSize bounds the size of a tokenizer file read by Load.
const maxFileSize = 256 << 20

// Load reads a tokenizer from path: a Hugging Face tokenizer.json, a Mistral tekken.json,
// or a directory holding one of them (tokenizer.json is preferred, as transformers does).
func Load(path string) (*Tokenizer, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if info.IsDir() {
		for _, name := range []string{"tokenizer.json", "tekken.json"} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return Load(p)
			}
		}
		return nil, fmt.Errorf("tokenizer: directory %s has neither tokenizer.json nor tekken.json; point Load at the tokenizer file or its folder", path)
	}
	data, err := fsutil.ReadFileLimited(path, maxFileSize, "a tokenizer file")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if isTekkenJSON(data) {
		t, err := ParseTekken(data)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
		}
		t.source = path
		return t, nil
	}
	t, err := ParseHF(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	t.source = path
	return t, nil
}

// Encode returns the token ids of text, without any post-processor template (the
// equivalent of `tokenizer.encode(text, add_special_tokens=False)`; chat templates already
// contain their special tokens). Added/special token strings in text are matched as such.
func (t *Tokenizer) Encode(text string) []int {
	var ids []int
	var words []string
	for _, seg := range t.added.split(text, t.added.raw, nil) {
		if seg.token >= 0 {
			ids = append(ids, t.added.tokens[seg.token].ID)
			continue
		}
		s := seg.text
		if t.normalize != nil {
			s = t.normalize(s)
		}
		for _, seg2 := range t.added.split(s, t.added.norm, nil) {
			if seg2.token >= 0 {
				ids = append(ids, t.added.tokens[seg2.token].ID)
				continue
			}
			words = t.preTok.split(seg2.text, words[:0])
			for _, w := range words {
				ids = t.model.encodeWord(w, ids)
			}
		}
	}
	return ids
}

// TokenID returns the id of a token given as it is written in the vocabulary (byte-level
// alphabet, e.g. "Ġcat") or as an added token's content (e.g. "<|im_end|>").
func (t *Tokenizer) TokenID(token string) (int, bool) {
	if i, ok := t.added.byContent[token]; ok {
		return t.added.tokens[i].ID, true
	}
	return t.model.tokenToID(token)
}

// IDToken returns the vocabulary string of id, or an added token's content (normalized
// when the token is matched in normalized text, as Hugging Face's id_to_token does).
func (t *Tokenizer) IDToken(id int) (string, bool) {
	if i, ok := t.added.byID[id]; ok {
		return t.added.decoded[i], true
	}
	return t.model.idToToken(id)
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int) bool {
	i, ok := t.added.byID[id]
	return ok && t.added.tokens[i].Special
}

// AddedTokens returns a copy of the added tokens.
func (t *Tokenizer) AddedTokens() []AddedToken {
	return append([]AddedToken(nil), t.added.tokens...)
}

// VocabSize is the number of model tokens plus added tokens that are not in the model vocabulary.
func (t *Tokenizer) VocabSize() int {
	n := t.model.size()
	for _, a := range t.added.tokens {
		if _, ok := t.model.idToToken(a.ID); !ok {
			n++
		}
	}
	return n
}

// Source returns the file the tokenizer was loaded from ("" when parsed from bytes).
func (t *Tokenizer) Source() string { return t.source }
