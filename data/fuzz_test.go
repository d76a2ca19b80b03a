package data

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// FuzzCaptionInputs feeds arbitrary bytes to the caption readers (caption
// file, metadata.jsonl) and the caption rules: none may panic, and every
// accepted caption is valid, normalised UTF-8.
func FuzzCaptionInputs(f *testing.F) {
	f.Add([]byte(`{"file_name": "a.png", "text": "a cat"}`))
	f.Add([]byte("\xEF\xBB\xBFtag1, tag2,, {trigger}\r\n"))
	f.Add([]byte("caf\xe9"))
	f.Add([]byte(`{"file_name": 3, "text": null}` + "\n{\n[]\n\"x\"\n"))
	f.Add([]byte(`{"image_path": "../../etc/passwd", "caption": "x"}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeCaption(b); err == nil && c != normalizeCaption(c) {
			t.Fatalf("caption %q not normalised", c)
		}
		path := testutil.WriteFile(t, filepath.Join(dir, MetadataFile), b)
		entries, _ := readMetadata(path)
		for _, e := range entries {
			if e.caption != normalizeCaption(e.caption) {
				t.Fatalf("metadata caption %q not normalised", e.caption)
			}
		}
		r := CaptionRules{Trigger: string(b[:min(len(b), 5)]), Dropout: 0.5, ShuffleTags: true, KeepTokens: 1}
		r.Apply(string(b), rand.New(rand.NewPCG(1, 2)))
	})
}
