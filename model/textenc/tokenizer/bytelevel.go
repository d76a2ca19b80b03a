package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// byteLevelTable is the GPT-2 byte-to-unicode mapping used by byte-level BPE: printable
// Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the other 68 bytes map
// to U+0100.. in byte order. Vocabularies of byte-level BPE tokenizers are written in
// this alphabet (a leading space shows as 'Ġ' = U+0120).
type byteLevelTable struct {
	toRune  [256]rune
	toStr   [256]string
	fromMap map[rune]byte
}

// newByteLevelTable builds the mapping.
func newByteLevelTable() *byteLevelTable {
	t := &byteLevelTable{fromMap: make(map[rune]byte, 256)}
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			t.toRune[b] = rune(b)
		} else {
			t.toRune[b] = next
			next++
		}
		t.toStr[b] = string(t.toRune[b])
		t.fromMap[t.toRune[b]] = byte(b)
	}
	return t
}

// encode maps raw bytes to their byte-level string.
func (t *byteLevelTable) encode(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteString(t.toStr[s[i]])
	}
	return sb.String()
}

// decodeToken appends the bytes a byte-level token stands for. Like the Hugging Face
// ByteLevel decoder, a token with any character outside the alphabet is kept verbatim.
func (t *byteLevelTable) decodeToken(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		b, ok := t.fromMap[r]
		if !ok {
			return append(dst[:start], tok...)
		}
		dst = append(dst, b)
	}
	return dst
}

// lossyUTF8 converts bytes to a string, replacing each maximal ill-formed subsequence with
// one U+FFFD, as Rust's String::from_utf8_lossy and Python's errors="replace" do (Go's
// own conversions replace byte by byte, which differs).
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[i : i+size])
			i += size
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += 1 + validContinuations(b[i:])
	}
	return sb.String()
}

// validContinuations returns how many bytes after the lead byte b[0] continue a
// well-formed prefix of a UTF-8 sequence (the rest of the maximal ill-formed subpart).
func validContinuations(b []byte) int {
	lead := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 1
	case lead == 0xE0:
		need, lo = 2, 0xA0
	case lead >= 0xE1 && lead <= 0xEC, lead == 0xEE, lead == 0xEF:
		need = 2
	case lead == 0xED:
		need, hi = 2, 0x9F
	case lead == 0xF0:
		need, lo = 3, 0x90
	case lead >= 0xF1 && lead <= 0xF3:
		need = 3
	case lead == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 0
	}
	n := 0
	for n < need && 1+n < len(b) {
		c := b[1+n]
		if c < lo || c > hi {
			break
		}
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}
