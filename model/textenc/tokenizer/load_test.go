package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// minimalHF returns a small valid byte-level tokenizer.json with one section replaced.
func minimalHF(section, value string) string {
	parts := map[string]string{
		"normalizer":     `null`,
		"pre_tokenizer":  `{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}`,
		"decoder":        `{"type":"ByteLevel"}`,
		"post_processor": `null`,
		"model":          `{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3},"merges":["a b"]}`,
		"added_tokens":   `[{"id":4,"content":"<x>","special":true}]`,
	}
	parts[section] = value
	var sb strings.Builder
	sb.WriteString("{")
	first := true
	for _, k := range []string{"normalizer", "pre_tokenizer", "decoder", "post_processor", "model", "added_tokens"} {
		if !first {
			sb.WriteString(",")
		}
		first = false
		sb.WriteString(`"` + k + `":` + parts[k])
	}
	sb.WriteString("}")
	return sb.String()
}

func TestParseHFMinimal(t *testing.T) {
	tk, err := ParseHF([]byte(minimalHF("", "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("ab a<x>b"); !slices.Equal(got, []int{2, 3, 0, 4, 1}) {
		t.Errorf("Encode = %v, want [2 3 0 4 1]", got)
	}
}

func TestParseHFRejectsUnsupported(t *testing.T) {
	cases := []struct{ section, value, msg string }{
		{"normalizer", `{"type":"Lowercase"}`, `normalizer type "Lowercase"`},
		{"normalizer", `{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Strip"}]}`, `Sequence[1]`},
		{"pre_tokenizer", `{"type":"Whitespace"}`, `pre_tokenizer type "Whitespace"`},
		{"pre_tokenizer", `{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Isolated"}`, `\w`},
		{"pre_tokenizer", `{"type":"Split","pattern":{"Regex":"a"},"behavior":"MergedWithNext"}`, `MergedWithNext`},
		{"pre_tokenizer", `{"type":"Sequence","pretokenizers":[{"type":"ByteLevel"},{"type":"Split","pattern":{"String":"a"},"behavior":"Isolated"}]}`, "ByteLevel must come last"},
		{"post_processor", `{"type":"Weird"}`, `post_processor type "Weird"`},
		{"model", `{"type":"WordPiece","vocab":{"a":0}}`, `model type "WordPiece"`},
		{"model", `{"type":"BPE","vocab":{}}`, "no vocab"},
		{"model", `{"type":"BPE","dropout":0.1,"vocab":{"a":0}}`, "dropout"},
		{"model", `{"type":"BPE","continuing_subword_prefix":"##","vocab":{"a":0}}`, "continuing_subword_prefix"},
		{"model", `{"type":"BPE","vocab":{"a":0},"merges":["a c"]}`, "not in vocab"},
		{"model", `{"type":"BPE","vocab":{"a":-5}}`, "outside"},
		{"model", `{"type":"BPE","vocab":{"a":0,"b":0}}`, "used by both"},
		{"model", `{"type":"BPE","unk_token":"<unk>","vocab":{"a":0}}`, "unk_token"},
		{"added_tokens", `[{"id":99999999999,"content":"x"}]`, "outside"},
	}
	for _, c := range cases {
		_, err := ParseHF([]byte(minimalHF(c.section, c.value)))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s=%s: error %v, want mention of %q", c.section, c.value, err, c.msg)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tk, err := ParseHF([]byte(minimalHF("decoder", `{"type":"Metaspace"}`)))
	if err != nil {
		t.Fatalf("an unsupported decoder must not prevent encoding: %v", err)
	}
	if _, err := tk.Decode([]int{0}, false); err == nil || !strings.Contains(err.Error(), "Metaspace") {
		t.Errorf("Decode with unsupported decoder: %v", err)
	}
	tk, err = ParseHF([]byte(minimalHF("", "")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Decode([]int{77}, false); err == nil {
		t.Errorf("Decode of an unknown id succeeded")
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor tekken.json") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Errorf("missing file accepted")
	}
	bad := testutil.WriteFile(t, filepath.Join(dir, "tokenizer.json"), []byte("{not json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad json: error %v should name %s", err, bad)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "tekken_pruned.tekken.json"))
	if err != nil {
		t.Fatal(err)
	}
	tdir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(tdir, "tekken.json"), data)
	tk, err := Load(tdir)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tk.TokenID("[INST]"); id != 3 || tk.Source() != filepath.Join(tdir, "tekken.json") {
		t.Errorf("tekken folder: [INST]=%d source=%q", id, tk.Source())
	}
}

func TestParseTekkenRejectsBadFiles(t *testing.T) {
	cases := []struct{ json, msg string }{
		{`{"config":{},"vocab":[]}`, "pattern is missing"},
		{`{"config":{"pattern":"\\s+|\\S+","default_vocab_size":300},"vocab":[{"rank":0,"token_bytes":"AA=="}]}`, "single byte 1 is missing"},
		{`{"config":{"pattern":"\\s+|\\S+","default_vocab_size":300,"version":"v11"},"vocab":[]}`, "needs a special_tokens list"},
		{`{"config":{"pattern":"\\s+|\\S+","default_vocab_size":300},"vocab":[],"special_tokens":[{"rank":1,"token_str":"<s>"}]}`, "without gaps"},
		{`{"config":{"pattern":"\\s+|\\S+","default_vocab_size":300},"vocab":[{"rank":0,"token_bytes":"AQ=="}]}`, "must be the single byte 0"},
		{`{"config":{"pattern":"\\s+|\\S+","default_vocab_size":300},"vocab":[{"rank":3,"token_bytes":"Aw=="},{"rank":2,"token_bytes":"Ag=="}]}`, "not increasing"},
		{`{"config":{"pattern":"(?<=a)b","default_vocab_size":300},"vocab":[]}`, "lookbehind"},
		{`{"config":{"pattern":"\\s+|\\S+","default_num_special_tokens":2000000},"vocab":[]}`, "default_num_special_tokens 2000000 is above the limit of 65536"},
		{`{"config":{"pattern":"\\s+|\\S+","default_num_special_tokens":3},"vocab":[]}`, "default_num_special_tokens 3 is below the 20 listed"},
	}
	for _, c := range cases {
		_, err := ParseTekken([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseTekken(%s): error %v, want mention of %q", c.json, err, c.msg)
		}
	}
}
