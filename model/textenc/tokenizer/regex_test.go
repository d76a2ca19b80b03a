package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRegexSplitsMatchOniguruma compares the pieces of an Isolated split with the
// references recorded from tokenizers' Split pre-tokenizer (Oniguruma) for the Qwen2,
// Tekken, GPT-2, cl100k-style (possessive) and o200k patterns plus engine stress patterns.
func TestRegexSplitsMatchOniguruma(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pretokenize_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Patterns map[string]string `json:"patterns"`
		Cases    []struct {
			Pattern string   `json:"pattern"`
			Text    string   `json:"text"`
			Pieces  []string `json:"pieces"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	steps := map[string]*preTokStep{}
	for name, p := range ref.Patterns {
		re, err := CompileRegexp(p, Oniguruma)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		steps[name] = &preTokStep{re: re, behavior: splitIsolated}
	}
	if len(ref.Cases) < 100 {
		t.Fatalf("only %d cases", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		got := steps[c.Pattern].apply(c.Text, nil)
		if !slices.Equal(got, c.Pieces) && !(len(got) == 0 && len(c.Pieces) == 0) {
			t.Errorf("%s on %q\n got %q\nwant %q", c.Pattern, c.Text, got, c.Pieces)
		}
	}
}

// checkMatches compiles pattern in dialect and checks the texts of all its
// matches in text.
func checkMatches(t *testing.T, dialect RegexDialect, pattern, text string, want []string) {
	t.Helper()
	re, err := CompileRegexp(pattern, dialect)
	if err != nil {
		t.Errorf("%q: %v", pattern, err)
		return
	}
	var got []string
	for _, m := range re.FindAllIndex(text) {
		got = append(got, text[m[0]:m[1]])
	}
	if !slices.Equal(got, want) {
		t.Errorf("dialect %d %q on %q = %q, want %q", dialect, pattern, text, got, want)
	}
}

func TestRegexConstructs(t *testing.T) {
	cases := []struct {
		pattern, text string
		want          []string // matched substrings, in order
	}{
		{`a+?`, "aaa", []string{"a", "a", "a"}},
		{`a{2}`, "aaaaa", []string{"aa", "aa"}},
		{`a{2,}`, "aaaaa b aa", []string{"aaaaa", "aa"}},
		{`x{1,2}?y`, "xxy", []string{"xxy"}},
		{`(?i:ab)`, "AB aB ab", []string{"AB", "aB", "ab"}},
		{`(?i)k`, "k K \u212a", []string{"k", "K", "\u212a"}}, // Kelvin sign folds to k
		{`'(?i:s)`, "'s 'S '\u017f", []string{"'s", "'S", "'\u017f"}},
		{`a(?=b)`, "ab ac", []string{"a"}},
		{`a(?!b)`, "ab ac", []string{"a"}},
		{`\s+(?!\S)|\s+`, "a   b", []string{"  ", " "}},
		{`a*+a|b`, "aaa b", []string{"b"}},
		{`(?>a+)b|a`, "aab a", []string{"aab", "a"}},
		{`[^\p{L}\s]+`, "ab,;c 12!", []string{",;", "12!"}},
		{`[\x41-\x43]+`, "ABCD", []string{"ABC"}},
		{`\x{1F600}`, "x\U0001f600", []string{"\U0001f600"}},
		{`[a\-z]+`, "a-zb", []string{"a-z"}},
		{`.`, "a\nb", []string{"a", "b"}},
		{`\{x\}|{`, "{x} {", []string{"{x}", "{"}},
		{`\p{Han}+`, "\u6f22\u5b57abc", []string{"\u6f22\u5b57"}},
		{`\P{L}+`, "ab12!c", []string{"12!"}},
		{`\d+`, "a\u0663\u0664b", []string{"\u0663\u0664"}},
	}
	for _, c := range cases {
		checkMatches(t, Oniguruma, c.pattern, c.text, c.want)
	}
}

func TestRegexRejectsUnsupported(t *testing.T) {
	cases := []struct{ pattern, msg string }{
		{`a|`, "empty string"},
		{`a*`, "empty string"},
		{`(?:a?)+b`, "repetition"},
		{`^a`, "anchor"},
		{`a$`, "anchor"},
		{`(?<=a)b`, "lookbehind"},
		{`(?P<n>a)`, "not supported"},
		{`\w+`, `\w`},
		{`\bx`, `\b`},
		{`[a[b]]`, "nested"},
		{`[a&&b]`, "intersection"},
		{`\p{Nope}`, "unknown Unicode property"},
		{`(?x)a`, "inline flag"},
		{`(a`, "missing ')'"},
		{`a)`, "unbalanced"},
		{`[a`, "unterminated"},
		{`*a`, "nothing to repeat"},
		{`a**`, "nested quantifier"},
		{`a{5,2}`, "invalid repeat"},
		{`a{2000}`, "repeat count"},
		{`[z-a]`, "invalid class range"},
		{`a\`, "trailing backslash"},
	}
	for _, c := range cases {
		_, err := CompileRegexp(c.pattern, Oniguruma)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("CompileRegexp(%q) error = %v, want mention of %q", c.pattern, err, c.msg)
		}
	}
}

// TestRegexDialects pins the interval-quantifier points where Oniguruma (Ruby syntax) and
// fancy-regex disagree. The fancy-regex expectation of `\d{1,3}+` was checked with tiktoken
// (which splits "12345" into "123", "45"); the Oniguruma one is in pretokenize_reference.json.
func TestRegexDialects(t *testing.T) {
	cases := []struct {
		dialect       RegexDialect
		pattern, text string
		want          []string
	}{
		{Oniguruma, `\d{1,3}+`, "12345", []string{"12345"}},
		{FancyRegex, `\d{1,3}+`, "12345", []string{"123", "45"}},
		{Oniguruma, `a{2}?b`, "b aab", []string{"b", "aab"}},
		{FancyRegex, `a{2}?b`, "b aab", []string{"aab"}},
		{Oniguruma, `a{,2}b`, "aaab", []string{"aab"}},
		{Oniguruma, `\d{2,3}?`, "12345", []string{"12", "34"}},
		{FancyRegex, `\d{2,3}?`, "12345", []string{"12", "34"}},
	}
	for _, c := range cases {
		checkMatches(t, c.dialect, c.pattern, c.text, c.want)
	}
}
