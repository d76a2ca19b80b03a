package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchTokenizer returns the full Qwen3 tokenizer when FLORA_TOKENIZER_DIFF_DIR is set (see
// differential_test.go), else the pruned fixture, and a long text: all reference texts.
func benchTokenizer(b *testing.B, file string) (*Tokenizer, string) {
	b.Helper()
	r := readReference(b, "qwen3_reference.json")
	var texts []string
	for _, c := range r.Encode {
		texts = append(texts, c.Text)
	}
	path := filepath.Join("testdata", r.Tokenizer)
	if dir := os.Getenv("FLORA_TOKENIZER_DIFF_DIR"); dir != "" {
		path = filepath.Join(dir, file)
	}
	tk, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return tk, strings.Join(texts, "\n")
}

func benchEncode(b *testing.B, file string, cold bool) {
	tk, text := benchTokenizer(b, file)
	n := len(tk.Encode(text))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if cold {
			if m, ok := tk.model.(*bpeModel); ok {
				m.cache = newWordCache()
			}
		}
		tk.Encode(text)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeQwenWarm measures Encode with the per-word cache filled (steady state).
func BenchmarkEncodeQwenWarm(b *testing.B) { benchEncode(b, "qwen3.tokenizer.json", false) }

// BenchmarkEncodeQwenCold clears the word cache before every call (every word runs BPE).
func BenchmarkEncodeQwenCold(b *testing.B) { benchEncode(b, "qwen3.tokenizer.json", true) }

// BenchmarkEncodePromptMistral measures one FLUX.2 [dev] templated, padded prompt.
func BenchmarkEncodePromptMistral(b *testing.B) {
	tk := loadFixture(b, "tekken_pruned.tokenizer.json")
	prompt := "A sprawling cyberpunk city at night, neon signs in Japanese and English reflecting on rain-slicked streets"
	for i := 0; i < b.N; i++ {
		if _, _, err := tk.EncodePrompt(MistralChat{}, prompt, DefaultMaxLength); err != nil {
			b.Fatal(err)
		}
	}
}
