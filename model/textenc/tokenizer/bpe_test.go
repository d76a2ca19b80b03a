package tokenizer

import (
	"math/rand"
	"slices"
	"testing"
)

// TestMergeHeapEqualsScan checks that the heap-based merge loop used for long words gives
// exactly the ids of the simple lowest-rank-first scan, on random words over the alphabet
// of the real Qwen3 fixture (long words in the references only cover a few shapes).
func TestMergeHeapEqualsScan(t *testing.T) {
	tk := loadFixture(t, "qwen3_pruned.tokenizer.json")
	m := tk.model.(*bpeModel)
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", "c", "s", "t", "e", "r", " ", "in", "the", "ing", "\u65e5", "1", "!", "\n"}
	for i := 0; i < 400; i++ {
		var w []byte
		for n := 1 + rng.Intn(120); len(w) < n; {
			w = append(w, alphabet[rng.Intn(len(alphabet))]...)
		}
		syms := m.initialSymbols(string(w), "", nil)
		scan := m.mergeScan(slices.Clone(syms))
		heap := m.mergeHeap(slices.Clone(syms))
		if !slices.Equal(scan, heap) {
			t.Fatalf("word %q: scan %v, heap %v", w, scan, heap)
		}
	}
}

// TestRankBPEEqualsMergeBPE checks that tekken.json (tiktoken rank merging) and the
// transformers-converted tokenizer.json (merge-pair BPE with ignore_merges) agree on random
// words built from the fixture texts' characters.
func TestRankBPEEqualsMergeBPE(t *testing.T) {
	hf := loadFixture(t, "tekken_pruned.tokenizer.json")
	tek := loadFixture(t, "tekken_pruned.tekken.json")
	words := []string{"sprawling", "cyberpunk", "neon", "rain", "umbrella", "photo", "the", " ", "caf\u00e9", "\u732b", "ing", "!"}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 300; i++ {
		var s string
		for n := 1 + rng.Intn(8); n > 0; n-- {
			s += words[rng.Intn(len(words))]
		}
		a, b := hf.Encode(s), tek.Encode(s)
		if !slices.Equal(a, b) {
			t.Fatalf("%q: tokenizer.json %v, tekken.json %v", s, a, b)
		}
	}
}

func TestParseMergesForms(t *testing.T) {
	a, err := parseMerges([]byte(`["a b", "ab c"]`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseMerges([]byte(`[["a","b"],["ab","c"]]`))
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a", "b"}, {"ab", "c"}}
	if !slices.Equal(a, want) || !slices.Equal(b, want) {
		t.Errorf("string form %v, list form %v, want %v", a, b, want)
	}
	for _, bad := range []string{`["abc"]`, `["a b c"]`, `[["a"]]`, `{"a":1}`} {
		if _, err := parseMerges([]byte(bad)); err == nil {
			t.Errorf("parseMerges(%s) accepted", bad)
		}
	}
}
