package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFullTokenizersDifferential compares Encode with the full real Qwen3 and Tekken
// tokenizers on thousands of random texts. The files are too large to commit; run
//
//	python tools/reference/tokenizer_fixtures.py --out model/textenc/tokenizer/testdata --diff-dir DIR
//	FLORA_TOKENIZER_DIFF_DIR=DIR go test ./model/textenc/tokenizer -run Differential
func TestFullTokenizersDifferential(t *testing.T) {
	dir := os.Getenv("FLORA_TOKENIZER_DIFF_DIR")
	if dir == "" {
		t.Skip("FLORA_TOKENIZER_DIFF_DIR not set (see the test's doc comment)")
	}
	data, err := os.ReadFile(filepath.Join(dir, "differential_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Text        string `json:"text"`
			Qwen3       []int  `json:"qwen3"`
			Tekken      []int  `json:"tekken"`
			Qwen3Decode string `json:"qwen3_decode"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	qwen, err := Load(filepath.Join(dir, "qwen3.tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tekHF, err := Load(filepath.Join(dir, "tekken.tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tek, err := Load(filepath.Join(dir, "tekken.tekken.json"))
	if err != nil {
		t.Fatal(err)
	}
	fails := 0
	for i, c := range ref.Cases {
		checks := []struct {
			name      string
			got, want []int
		}{
			{"qwen3", qwen.Encode(c.Text), c.Qwen3},
			{"tekken tokenizer.json", tekHF.Encode(c.Text), c.Tekken},
			{"tekken.json", tek.Encode(c.Text), c.Tekken},
		}
		for _, ch := range checks {
			if !slices.Equal(ch.got, ch.want) {
				fails++
				t.Errorf("case %d %s Encode(%q)\n got %v\nwant %v", i, ch.name, c.Text, ch.got, ch.want)
			}
		}
		if dec, err := qwen.Decode(c.Qwen3, false); err != nil || dec != c.Qwen3Decode {
			fails++
			t.Errorf("case %d qwen3 Decode = %q, %v; want %q", i, dec, err, c.Qwen3Decode)
		}
		if fails > 10 {
			t.Fatal("too many failures")
		}
	}
	t.Logf("%d random texts compared", len(ref.Cases))
}
