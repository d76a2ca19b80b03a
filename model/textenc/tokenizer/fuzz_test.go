package tokenizer

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTekken returns a small valid tekken.json: the 256 single bytes, a few
// merged tokens, and either the legacy control tokens (v7) or a list.
func fuzzTekken(pattern string, specials bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{"config":{"pattern":%q,"default_vocab_size":300,`, pattern)
	if specials {
		sb.WriteString(`"default_num_special_tokens":4,"version":"v13"},"special_tokens":[{"rank":0,"token_str":"<unk>"},{"rank":1,"token_str":"<s>"},{"rank":2,"token_str":"<pad>"}],`)
	} else {
		sb.WriteString(`"version":"v7"},`)
	}
	sb.WriteString(`"vocab":[`)
	for b := range 256 {
		fmt.Fprintf(&sb, `{"rank":%d,"token_bytes":%q},`, b, base64.StdEncoding.EncodeToString([]byte{byte(b)}))
	}
	for i, tok := range []string{"ab", " a", "abab", "\xc3\xa9"} {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"rank":%d,"token_bytes":%q}`, 256+i, base64.StdEncoding.EncodeToString([]byte(tok)))
	}
	sb.WriteString("]}")
	return sb.String()
}

// FuzzParse feeds arbitrary bytes to both tokenizer-file parsers (Hugging
// Face tokenizer.json and Mistral tekken.json) and encodes text with every
// tokenizer that loads: nothing may panic, every encoded id decodes, unknown
// ids are errors, and the chat templates pad to the asked length. Only the
// seeds run in a normal `go test`.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimalHF("", "")), "ab a<x>b")
	f.Add([]byte(minimalHF("normalizer", `{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"NFKD"}]}`)), "caf\u00e9 ab")
	f.Add([]byte(minimalHF("pre_tokenizer", `{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t)|\\p{L}+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":true,"use_regex":false}]}`)), "It's ab  ba\n")
	f.Add([]byte(minimalHF("model", `{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,"ignore_merges":true,"vocab":{"a":0,"b":1,"ab":2,"<unk>":3,"<0x61>":5},"merges":[["a","b"]]}`)), "abc\xff")
	f.Add([]byte(minimalHF("added_tokens", `[{"id":4,"content":"<|endoftext|>","special":true},{"id":5,"content":"<pad>","single_word":true,"lstrip":true,"rstrip":true,"normalized":true}]`)), "x <pad> y<|endoftext|>")
	f.Add([]byte(fuzzTekken(`[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`, false)), "abab [INST] a\u00e9b 12")
	f.Add([]byte(fuzzTekken(`\S+|\s+`, true)), "<s>ab<pad>")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		if len(text) > 256 {
			text = text[:256]
		}
		var loaded []*Tokenizer
		if tk, err := ParseHF(data); err == nil {
			loaded = append(loaded, tk)
		}
		if tk, err := ParseTekken(data); err == nil {
			loaded = append(loaded, tk)
		}
		for _, tk := range loaded {
			ids := tk.Encode(text)
			if _, err := tk.Decode(ids, false); err != nil && tk.decodeErr == nil {
				t.Fatalf("Encode(%q) = %v does not decode: %v", text, ids, err)
			}
			if _, err := tk.Decode(ids, true); err != nil && tk.decodeErr == nil {
				t.Fatalf("Encode(%q) = %v does not decode skipping specials: %v", text, ids, err)
			}
			for _, id := range []int{-1, maxTokenID, 1 << 40} {
				if _, err := tk.Decode([]int{id}, false); err == nil {
					t.Fatalf("Decode of unknown id %d succeeded", id)
				}
			}
			for _, id := range ids {
				if s, ok := tk.IDToken(id); ok {
					tk.TokenID(s)
				}
				tk.IsSpecial(id)
			}
			_ = tk.VocabSize()
			for _, tpl := range []ChatTemplate{QwenChat{}, MistralChat{}} {
				got, mask, err := tk.EncodePrompt(tpl, text, 8)
				if err == nil && (len(got) != 8 || len(mask) != 8) {
					t.Fatalf("EncodePrompt gave %d ids, %d mask, want 8", len(got), len(mask))
				}
			}
		}
	})
}

// FuzzRegexp compiles arbitrary pre-tokenizer patterns in both dialects and
// runs them on arbitrary text: no panic, and every match is a non-empty,
// in-order span of the text on UTF-8 boundaries.
func FuzzRegexp(f *testing.F) {
	f.Add(`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, "It's 12 cafés!\r\n  x")
	f.Add(`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n/]*`, "HelloWorld 12345 ..//")
	f.Add(`(?>a+)b|a{2,}?|x{1,2}+|(?!q)[^\x00-\x1f]`, "aaab aaaa xxx q\x01")
	f.Add(`(?i)\u212a|[^a-c\d\x{10FFFF}]|\P{Han}+`, "k K \u212a 漢字")
	f.Add(`(a|ab)(c|bcd)(d*)`, "abcd\xff\xfe")
	f.Fuzz(func(t *testing.T, pattern, text string) {
		if len(text) > 256 {
			text = text[:256]
		}
		bound := map[int]bool{len(text): true}
		for i := 0; i < len(text); {
			bound[i] = true
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
		}
		for _, d := range []RegexDialect{Oniguruma, FancyRegex} {
			re, err := CompileRegexp(pattern, d)
			if err != nil {
				continue
			}
			prev := 0
			for _, sp := range re.FindAllIndex(text) {
				if sp[0] < prev || sp[1] <= sp[0] || !bound[sp[0]] || !bound[sp[1]] {
					t.Fatalf("%q on %q: bad span %v after %d", pattern, text, sp, prev)
				}
				prev = sp[1]
			}
		}
	})
}
