package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// referenceFile is the format written by tools/reference/tokenizer_fixtures.py.
type referenceFile struct {
	Tokenizer  string `json:"tokenizer"`
	TekkenJSON string `json:"tekken_json"`
	Provenance string `json:"provenance"`
	Encode     []struct {
		Text              string `json:"text"`
		IDs               []int  `json:"ids"`
		Decode            string `json:"decode"`
		DecodeSkipSpecial string `json:"decode_skip_special"`
		MistralCommonIDs  []int  `json:"mistral_common_ids"`
	} `json:"encode"`
	Chat []struct {
		Prompt           string  `json:"prompt"`
		Rendered         string  `json:"rendered"`
		IDs              []int32 `json:"ids"`
		Mask             []int32 `json:"mask"`
		PaddingSide      string  `json:"padding_side"`
		MistralCommonIDs []int32 `json:"mistral_common_ids"`
	} `json:"chat"`
}

func readReference(t testing.TB, name string) *referenceFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading fixture (regenerate with tools/reference/tokenizer_fixtures.py): %v", err)
	}
	var r referenceFile
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(r.Encode) == 0 && len(r.Chat) == 0 {
		t.Fatalf("%s: no reference cases", name)
	}
	return &r
}

func loadFixture(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tk, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return tk
}

// TestEncodeDecodeMatchesReference checks ids and both decode modes against the Python
// tokenizers output for every fixture tokenizer.
func TestEncodeDecodeMatchesReference(t *testing.T) {
	for _, ref := range []string{
		"qwen3_reference.json",
		"tekken_reference.json",
		"synthetic_bytelevel_reference.json",
		"synthetic_byte_fallback_reference.json",
		"synthetic_unk_fused_reference.json",
		"synthetic_unk_dropless_reference.json",
	} {
		t.Run(ref, func(t *testing.T) {
			r := readReference(t, ref)
			tk := loadFixture(t, r.Tokenizer)
			for i, c := range r.Encode {
				got := tk.Encode(c.Text)
				if !slices.Equal(got, c.IDs) {
					t.Errorf("case %d Encode(%q)\n got %v\nwant %v", i, c.Text, got, c.IDs)
					continue
				}
				dec, err := tk.Decode(c.IDs, false)
				if err != nil {
					t.Errorf("case %d Decode: %v", i, err)
				} else if dec != c.Decode {
					t.Errorf("case %d Decode(%q) = %q, want %q", i, c.Text, dec, c.Decode)
				}
				dec, err = tk.Decode(c.IDs, true)
				if err != nil {
					t.Errorf("case %d Decode skip: %v", i, err)
				} else if dec != c.DecodeSkipSpecial {
					t.Errorf("case %d Decode(skip special) of %q = %q, want %q", i, c.Text, dec, c.DecodeSkipSpecial)
				}
			}
		})
	}
}

// TestTekkenJSONMatchesReference loads the mistral-common format file and checks it against
// the transformers conversion of the same vocabulary (control-token strings are matched)
// and, for texts without control-token strings, against mistral-common's Tekkenizer.
func TestTekkenJSONMatchesReference(t *testing.T) {
	r := readReference(t, "tekken_reference.json")
	tk := loadFixture(t, r.TekkenJSON)
	compared := 0
	for i, c := range r.Encode {
		got := tk.Encode(c.Text)
		if !slices.Equal(got, c.IDs) {
			t.Errorf("case %d Encode(%q)\n got %v\nwant %v", i, c.Text, got, c.IDs)
		}
		if slices.ContainsFunc(got, func(id int) bool { return id < 1000 }) {
			continue // mistral-common's raw Tekkenizer reads control-token strings as plain text
		}
		compared++
		if !slices.Equal(got, c.MistralCommonIDs) {
			t.Errorf("case %d Encode(%q) = %v, mistral-common %v", i, c.Text, got, c.MistralCommonIDs)
		}
		dec, err := tk.Decode(c.IDs, false)
		if err != nil || dec != c.Decode {
			t.Errorf("case %d Decode = %q, %v; want %q", i, dec, err, c.Decode)
		}
	}
	if compared < len(r.Encode)/2 {
		t.Fatalf("only %d of %d cases compared with mistral-common", compared, len(r.Encode))
	}
}

// TestSpecialTokenIDs pins the control-token ids the FLUX.2 pipelines depend on.
func TestSpecialTokenIDs(t *testing.T) {
	cases := []struct {
		file  string
		token string
		id    int
	}{
		{"qwen3_pruned.tokenizer.json", "<|endoftext|>", 151643},
		{"qwen3_pruned.tokenizer.json", "<|im_start|>", 151644},
		{"qwen3_pruned.tokenizer.json", "<|im_end|>", 151645},
		{"qwen3_pruned.tokenizer.json", "<think>", 151667},
		{"qwen3_pruned.tokenizer.json", "</think>", 151668},
		{"tekken_pruned.tokenizer.json", "<unk>", 0},
		{"tekken_pruned.tokenizer.json", "<s>", 1},
		{"tekken_pruned.tokenizer.json", "</s>", 2},
		{"tekken_pruned.tokenizer.json", "[INST]", 3},
		{"tekken_pruned.tokenizer.json", "[/INST]", 4},
		{"tekken_pruned.tokenizer.json", "[IMG]", 10},
		{"tekken_pruned.tokenizer.json", "<pad>", 11},
		{"tekken_pruned.tokenizer.json", "[SYSTEM_PROMPT]", 17},
		{"tekken_pruned.tokenizer.json", "[/SYSTEM_PROMPT]", 18},
		{"tekken_pruned.tokenizer.json", "<SPECIAL_999>", 999},
		{"tekken_pruned.tekken.json", "<pad>", 11},
		{"tekken_pruned.tekken.json", "[SYSTEM_PROMPT]", 17},
		{"tekken_pruned.tekken.json", "<SPECIAL_999>", 999},
		{"tekken_pruned.tekken.json", "Ġthe", 1278},
	}
	loaded := map[string]*Tokenizer{}
	for _, c := range cases {
		tk, ok := loaded[c.file]
		if !ok {
			tk = loadFixture(t, c.file)
			loaded[c.file] = tk
		}
		id, ok := tk.TokenID(c.token)
		if !ok || id != c.id {
			t.Errorf("%s TokenID(%q) = %d, %v; want %d", c.file, c.token, id, ok, c.id)
		}
		back, ok := tk.IDToken(c.id)
		if !ok || back != c.token {
			t.Errorf("%s IDToken(%d) = %q, %v; want %q", c.file, c.id, back, ok, c.token)
		}
	}
	tk := loaded["tekken_pruned.tekken.json"]
	if !tk.IsSpecial(11) || tk.IsSpecial(1278) {
		t.Errorf("IsSpecial: <pad> must be special, Ġthe must not")
	}
}

// TestEncodeInvalidUTF8 covers input Python cannot produce: invalid bytes are kept and
// byte-level encoded as they are, and Decode replaces them like from_utf8_lossy.
func TestEncodeInvalidUTF8(t *testing.T) {
	tk := loadFixture(t, "qwen3_pruned.tokenizer.json")
	ids := tk.Encode("a\xffb \xe2\x82")
	if len(ids) == 0 {
		t.Fatal("no ids")
	}
	got, err := tk.Decode(ids, false)
	if err != nil || got != "a\ufffdb \ufffd" {
		t.Errorf("Decode = %q, %v", got, err)
	}
}

// TestEncodeConcurrent checks that one Tokenizer can serve goroutines at once (run with -race).
func TestEncodeConcurrent(t *testing.T) {
	r := readReference(t, "qwen3_reference.json")
	tk := loadFixture(t, r.Tokenizer)
	errs := make(chan string, 4*len(r.Encode))
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, c := range r.Encode {
				if !slices.Equal(tk.Encode(c.Text), c.IDs) {
					errs <- c.Text
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Errorf("concurrent Encode(%q) differs", e)
	}
}
