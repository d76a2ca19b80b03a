package tokenizer

import (
	"encoding/json"
	"fmt"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites the text before pre-tokenization (outside added tokens).
type normalizer func(string) string

// maxConfigDepth bounds nesting of Sequence normalizers/pre-tokenizers/decoders.
const maxConfigDepth = 8

// parseNormalizer reads the "normalizer" section of tokenizer.json. Supported: null,
// NFC, NFD, NFKC, NFKD and Sequence of those. Anything else is an error naming the type.
func parseNormalizer(raw json.RawMessage, depth int) (normalizer, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	if depth > maxConfigDepth {
		return nil, fmt.Errorf("normalizer: nesting deeper than %d", maxConfigDepth)
	}
	var head struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch head.Type {
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Sequence":
		var parts []normalizer
		for i, r := range head.Normalizers {
			n, err := parseNormalizer(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("normalizer Sequence[%d]: %w", i, err)
			}
			if n != nil {
				parts = append(parts, n)
			}
		}
		return func(s string) string {
			for _, n := range parts {
				s = n(s)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("normalizer type %q is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)", head.Type)
}

// isJSONNull reports whether raw is absent or the JSON literal null.
func isJSONNull(raw json.RawMessage) bool {
	s := string(raw)
	return len(raw) == 0 || s == "null"
}
