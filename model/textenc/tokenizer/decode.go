package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// decoderKind is the supported "decoder" section of tokenizer.json.
type decoderKind uint8

const (
	decoderNone      decoderKind = iota // tokens joined with spaces (HF default without decoder)
	decoderByteLevel                    // GPT-2 byte alphabet back to bytes, lossy UTF-8
)

// parseDecoder reads the "decoder" section. Supported: null and ByteLevel.
func parseDecoder(raw json.RawMessage) (decoderKind, error) {
	if isJSONNull(raw) {
		return decoderNone, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return decoderNone, fmt.Errorf("decoder: %w", err)
	}
	if head.Type == "ByteLevel" {
		return decoderByteLevel, nil
	}
	return decoderNone, fmt.Errorf("decoder type %q is not supported (supported: ByteLevel)", head.Type)
}

// Decode turns ids back into text like `tokenizer.decode(ids, skip_special_tokens=...)`
// of Hugging Face tokenizers: each id becomes its token string (special added tokens are
// dropped when skipSpecial), then the decoder maps the byte alphabet back to bytes and
// invalid UTF-8 is replaced by U+FFFD per maximal ill-formed subsequence.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	if t.decodeErr != nil {
		return "", fmt.Errorf("tokenizer %s: %w", t.source, t.decodeErr)
	}
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if i, ok := t.added.byID[id]; ok {
			if skipSpecial && t.added.tokens[i].Special {
				continue
			}
			toks = append(toks, t.added.decoded[i])
			continue
		}
		s, ok := t.model.idToToken(id)
		if !ok {
			return "", fmt.Errorf("tokenizer: id %d is not in the vocabulary", id)
		}
		toks = append(toks, s)
	}
	if t.decoder == decoderNone {
		return strings.Join(toks, " "), nil
	}
	var buf []byte
	for _, s := range toks {
		buf = t.byteLevel.decodeToken(buf, s)
	}
	return lossyUTF8(buf), nil
}
