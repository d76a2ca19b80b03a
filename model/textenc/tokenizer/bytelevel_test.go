package tokenizer

import "testing"

// TestLossyUTF8 checks the replacement of ill-formed UTF-8 against Python's
// bytes.decode("utf-8", "replace") (values recorded from CPython 3.11), which follows the
// same "maximal subpart" rule as Rust's from_utf8_lossy used by tokenizers.
func TestLossyUTF8(t *testing.T) {
	const r = "\ufffd"
	cases := []struct {
		in   []byte
		want string
	}{
		{[]byte("\xe2\x82"), r},
		{[]byte("\xe2\x82a"), r + "a"},
		{[]byte("\xf0\x9f\x98"), r},
		{[]byte("\xff\xfe"), r + r},
		{[]byte("\xed\xa0\x80"), r + r + r},
		{[]byte("\xc0\xaf"), r + r},
		{[]byte("\xf4\x90\x80\x80"), r + r + r + r},
		{[]byte("a\x80b"), "a" + r + "b"},
		{[]byte("\xe0\x80\x80"), r + r + r},
		{[]byte("\xf0\x9f\x98\x80\xf0"), "\U0001f600" + r},
		{[]byte("ok"), "ok"},
	}
	for _, c := range cases {
		if got := lossyUTF8(c.in); got != c.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestByteLevelTable(t *testing.T) {
	bl := newByteLevelTable()
	cases := map[byte]rune{' ': 'Ġ', '\n': 'Ċ', '\t': 'ĉ', 0: 'Ā', 'a': 'a', 0xAD: 'Ń', 0xFF: 'ÿ', 0x7F: 'ġ'}
	for b, want := range cases {
		if bl.toRune[b] != want {
			t.Errorf("byte %#x -> %q, want %q", b, bl.toRune[b], want)
		}
	}
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := bl.toRune[b]
		if seen[r] {
			t.Fatalf("rune %q used twice", r)
		}
		seen[r] = true
		if got := bl.decodeToken(nil, string(r)); len(got) != 1 || got[0] != byte(b) {
			t.Fatalf("round trip of byte %#x gave %v", b, got)
		}
	}
	if got := string(bl.decodeToken(nil, "a\ufb01")); got != "a\ufb01" {
		t.Errorf("token outside the alphabet must decode verbatim, got %q", got)
	}
}
