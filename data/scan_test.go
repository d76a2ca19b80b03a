package data

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/internal/testutil"
)

// problemConfig is the config the datatest problem folder is made for.
func problemConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Folders = []Folder{{Path: dir}}
	cfg.MinSide = datatest.MinSide
	cfg.Resolutions = []int{datatest.Resolution}
	cfg.MaxUpscale = 4
	cfg.Trigger = "flora"
	return cfg
}

func TestScanProblemFolder(t *testing.T) {
	dir := t.TempDir()
	good, expected := datatest.ProblemFolder(t, dir)
	ds, problems, err := Scan(problemConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	// Every expected problem is reported, and nothing else.
	found := map[int]bool{}
	for _, p := range problems {
		matched := false
		for i, e := range expected {
			if p.Path == filepath.Join(dir, filepath.FromSlash(e.Path)) && string(p.Kind) == e.Kind {
				matched, found[i] = true, true
				if string(p.Severity) != e.Severity || !strings.Contains(p.Message, e.InMessage) {
					t.Errorf("%s: got %s %q, want %s containing %q", e.Path, p.Severity, p.Message, e.Severity, e.InMessage)
				}
			}
		}
		if !matched {
			t.Errorf("unexpected problem: %v", p)
		}
	}
	for i, e := range expected {
		if !found[i] {
			t.Errorf("missing problem: %s %s", e.Path, e.Kind)
		}
	}
	if got, want := problems.Count(Error), 5; got != want {
		t.Errorf("%d errors, want %d", got, want)
	}
	if problems.Err() == nil || !strings.Contains(problems.Err().Error(), "truncated.jpg") {
		t.Errorf("Problems.Err = %v, want it to name truncated.jpg", problems.Err())
	}
	// Exactly the good images are items, decoded to the expected pixels.
	if len(ds.Items) != len(good) {
		var names []string
		for _, it := range ds.Items {
			names = append(names, it.Path)
		}
		t.Fatalf("%d items %v, want %d", len(ds.Items), names, len(good))
	}
	byPath := map[string]*Item{}
	for i := range ds.Items {
		byPath[ds.Items[i].Path] = &ds.Items[i]
	}
	for _, g := range good {
		path := filepath.Join(dir, filepath.FromSlash(g.Path))
		it := byPath[path]
		if it == nil {
			t.Errorf("%s: not an item", g.Path)
			continue
		}
		if it.Width != g.Width || it.Height != g.Height || it.Repeats != g.Repeats || it.Caption != g.Caption {
			t.Errorf("%s: item %dx%d repeats %d caption %q; want %dx%d repeats %d caption %q", g.Path, it.Width, it.Height, it.Repeats, it.Caption, g.Width, g.Height, g.Repeats, g.Caption)
		}
		if len(it.Assignments) != 1 || it.Assignments[0].Resolution != datatest.Resolution {
			t.Errorf("%s: assignments %+v", g.Path, it.Assignments)
		}
		img, _, err := imageio.DecodeFile(path, ds.Config.DecodeOptions())
		if err != nil {
			t.Errorf("%s: %v", g.Path, err)
			continue
		}
		if c := img.NRGBAAt(g.At1.X, g.At1.Y); !datatest.Near(c, g.Col1, g.Tol) {
			t.Errorf("%s: pixel %v = %v, want %v", g.Path, g.At1, c, g.Col1)
		}
		if c := img.NRGBAAt(g.At2.X, g.At2.Y); !datatest.Near(c, g.Col2, g.Tol) {
			t.Errorf("%s: pixel %v = %v, want %v", g.Path, g.At2, c, g.Col2)
		}
	}
	if a, d := byPath[filepath.Join(dir, "alpha.png")], byPath[filepath.Join(dir, "dup.png")]; a == nil || d == nil || a.Hash != d.Hash || len(a.Hash) != 64 {
		t.Errorf("duplicate hashes differ or missing")
	}
}

// writeFiles creates files (relative path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, data)
	}
}

func TestScanCaptionSources(t *testing.T) {
	img := datatest.PNG(t, datatest.Pattern(20, 20))
	tests := []struct {
		name    string
		files   map[string][]byte
		setup   func(*Config)
		want    string // caption of a.png
		source  string // suffix of the caption source
		warning ProblemKind
	}{
		{"txt", map[string][]byte{"a.png": img, "a.txt": []byte("from txt")}, nil, "from txt", "a.txt", ""},
		{"caption ext", map[string][]byte{"a.png": img, "a.caption": []byte("from caption")}, nil, "from caption", "a.caption", ""},
		{"txt preferred over caption", map[string][]byte{"a.png": img, "a.txt": []byte("t"), "a.caption": []byte("c")}, nil, "t", "a.txt", ProblemCaption},
		{"custom extension order", map[string][]byte{"a.png": img, "a.txt": []byte("t"), "a.caption": []byte("c")}, func(c *Config) { c.CaptionExtensions = []string{".caption", ".txt"} }, "c", "a.caption", ProblemCaption},
		{"upper-case extension", map[string][]byte{"a.png": img, "a.TXT": []byte("upper")}, nil, "upper", "a.TXT", ""},
		{"metadata", map[string][]byte{"a.png": img, "metadata.jsonl": []byte(`{"file_name":"a.png","text":"from meta"}` + "\n")}, nil, "from meta", "metadata.jsonl:1", ""},
		{"metadata aliases", map[string][]byte{"a.png": img, "metadata.jsonl": []byte("\n" + `{"image_path":"a.png","caption":"alias"}`)}, nil, "alias", "metadata.jsonl:2", ""},
		{"metadata in parent folder", map[string][]byte{"sub/a.png": img, "metadata.jsonl": []byte(`{"file_name":"sub/a.png","text":"nested"}`)}, nil, "nested", "metadata.jsonl:1", ""},
		{"txt preferred over metadata", map[string][]byte{"a.png": img, "a.txt": []byte("t"), "metadata.jsonl": []byte(`{"file_name":"a.png","text":"m"}`)}, nil, "t", "a.txt", ProblemCaption},
		{"bom and whitespace", map[string][]byte{"a.png": img, "a.txt": []byte("\xEF\xBB\xBF  two\r\nlines\t here \n")}, nil, "two lines here", "a.txt", ""},
		{"empty file falls back to default", map[string][]byte{"a.png": img, "a.txt": []byte(" \n")}, func(c *Config) { c.DefaultCaption = "dflt" }, "dflt", "default", ProblemCaption},
		{"folder default before dataset default", map[string][]byte{"a.png": img}, func(c *Config) { c.DefaultCaption = "dflt"; c.Folders[0].DefaultCaption = "folder" }, "folder", "folder default", ""},
		{"no caption", map[string][]byte{"a.png": img}, nil, "", "", ProblemMissingCaption},
		{"placeholder without trigger", map[string][]byte{"a.png": img, "a.txt": []byte("a {trigger} cat")}, func(c *Config) { c.Trigger = "" }, "a {trigger} cat", "a.txt", ProblemCaption},
		{"hidden files ignored", map[string][]byte{"a.png": img, "a.txt": []byte("x"), ".hidden/b.png": {}, "._a.png": {}, "__MACOSX/c.png": {}}, nil, "x", "a.txt", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			cfg := DefaultConfig()
			cfg.Folders = []Folder{{Path: dir}}
			cfg.MinSide = 16
			cfg.Resolutions = []int{16}
			cfg.Trigger = "trig"
			if tc.setup != nil {
				tc.setup(&cfg)
			}
			ds, problems, err := Scan(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Items) != 1 {
				t.Fatalf("items %+v, problems %v", ds.Items, problems)
			}
			it := ds.Items[0]
			if it.Caption != tc.want || !strings.HasSuffix(it.CaptionSource, tc.source) {
				t.Errorf("caption %q from %q, want %q from …%q", it.Caption, it.CaptionSource, tc.want, tc.source)
			}
			var kinds []ProblemKind
			for _, p := range problems {
				kinds = append(kinds, p.Kind)
			}
			if tc.warning == "" && len(problems) > 0 || tc.warning != "" && (len(problems) != 1 || problems[0].Kind != tc.warning) {
				t.Errorf("problems %v, want only %q", problems, tc.warning)
			}
		})
	}
}

func TestFolderRepeats(t *testing.T) {
	tests := []struct {
		root, image string
		want        int
	}{
		{"data", "data/10_dog/a.png", 10},
		{"data", "data/10_dog/sub/a.png", 10},
		{"data", "data/3_cat/5_kitten/a.png", 5}, // nearest folder wins
		{"data/20_dog", "data/20_dog/a.png", 20}, // the root itself
		{"data", "data/a.png", 0},
		{"7_x", "7_x/a.png", 7},
		{"data", "data/dog_10/a.png", 0},
		{"data", "data/0_dog/a.png", 0},           // zero repeats is not a repeat count
		{"data", "data/99999_dog/a.png", 0},       // beyond MaxRepeats
		{"1_outer/data", "1_outer/data/a.png", 0}, // above the root does not count
		{".", "a.png", 0},
	}
	for _, tc := range tests {
		if got := folderRepeats(tc.root, filepath.FromSlash(tc.image)); got != tc.want {
			t.Errorf("folderRepeats(%q, %q) = %d, want %d", tc.root, tc.image, got, tc.want)
		}
	}
}

func TestScanRepeatsOverride(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"5_a/x.png": datatest.PNG(t, datatest.Pattern(20, 20))})
	for _, tc := range []struct{ configured, want int }{{0, 5}, {3, 3}} {
		cfg := DefaultConfig()
		cfg.Folders = []Folder{{Path: dir, Repeats: tc.configured}}
		cfg.MinSide, cfg.Resolutions = 16, []int{16}
		ds, _, err := Scan(cfg)
		if err != nil || len(ds.Items) != 1 || ds.Items[0].Repeats != tc.want {
			t.Errorf("configured %d: %v %+v, want repeats %d", tc.configured, err, ds, tc.want)
		}
	}
}

// Resolution assignment: an image trains at every resolution it reaches
// with at most MaxUpscale; one too small for all at the smallest.
func TestScanAssignments(t *testing.T) {
	dir := t.TempDir()
	flat := func(w, h int) []byte { return datatest.PNG(t, image.NewGray(image.Rect(0, 0, w, h))) }
	writeFiles(t, dir, map[string][]byte{
		"big.png":   flat(1000, 1000), // 1024 needs ×1.024 ≤ 1.1
		"mid.png":   flat(600, 600),
		"small.png": flat(300, 300),
		"wide.png":  flat(1200, 600),
	})
	cfg := DefaultConfig()
	cfg.Folders = []Folder{{Path: dir, DefaultCaption: "x"}}
	ds, problems, err := Scan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]Assignment{
		"big.png":   {{Resolution: 512, Bucket: bucket.Bucket{Width: 512, Height: 512}, Scale: 0.512}, {Resolution: 768, Bucket: bucket.Bucket{Width: 768, Height: 768}, Scale: 0.768}, {Resolution: 1024, Bucket: bucket.Bucket{Width: 1024, Height: 1024}, Scale: 1.024}},
		"mid.png":   {{Resolution: 512, Bucket: bucket.Bucket{Width: 512, Height: 512}, Scale: 512.0 / 600}},
		"small.png": {{Resolution: 512, Bucket: bucket.Bucket{Width: 512, Height: 512}, Scale: 512.0 / 300}},
		// 2:1. At 512 (step 32) the nearest is 736x352 (2.09; next 672x384
		// is 1.75), scale max(736/1200, 352/600). At 768 (step 48) width 528
		// gives ⌊589824/528/16⌋·16 = 1104 → 1104x528 (2.09; 1216x480 is
		// beyond 2.5), scale 1104/1200. At 1024 the nearest, 1488x704, needs
		// ×1.24 > 1.1.
		"wide.png": {{Resolution: 512, Bucket: bucket.Bucket{Width: 736, Height: 352}, Scale: 736.0 / 1200}, {Resolution: 768, Bucket: bucket.Bucket{Width: 1104, Height: 528}, Scale: 1104.0 / 1200}},
	}
	for _, it := range ds.Items {
		name := filepath.Base(it.Path)
		w := want[name]
		if len(it.Assignments) != len(w) {
			t.Errorf("%s: %+v, want %+v", name, it.Assignments, w)
			continue
		}
		for i := range w {
			a := it.Assignments[i]
			if a.Resolution != w[i].Resolution || a.Bucket != w[i].Bucket || a.Scale-w[i].Scale > 1e-9 || w[i].Scale-a.Scale > 1e-9 {
				t.Errorf("%s: %+v, want %+v", name, a, w[i])
			}
		}
	}
	if len(problems) != 1 || problems[0].Kind != ProblemUpscaled || !strings.HasSuffix(problems[0].Path, "small.png") {
		t.Errorf("problems %v, want one upscaled warning for small.png", problems)
	}
	if got, want := ds.SamplesPerEpoch(), 3+1+1+2; got != want {
		t.Errorf("SamplesPerEpoch = %d, want %d", got, want)
	}
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.png")
	writeFiles(t, dir, map[string][]byte{"f.png": {1}})
	tests := []struct {
		name  string
		setup func(*Config)
		inErr string
	}{
		{"missing folder", func(c *Config) { c.Folders = []Folder{{Path: filepath.Join(dir, "nope")}} }, "nope"},
		{"file not folder", func(c *Config) { c.Folders = []Folder{{Path: file}} }, "is a file"},
		{"no folders", func(c *Config) { c.Folders = nil }, "no folders"},
		{"bad resolution", func(c *Config) { c.Resolutions = []int{500} }, "multiple of 16"},
		{"bad crop", func(c *Config) { c.Crop = "left" }, "crop"},
		{"bad background", func(c *Config) { c.Background = "pink" }, "background"},
		{"bad dropout", func(c *Config) { c.CaptionDropout = 2 }, "dropout"},
		{"bad caption ext", func(c *Config) { c.CaptionExtensions = []string{"txt"} }, "caption extension"},
		{"image ext as caption ext", func(c *Config) { c.CaptionExtensions = []string{".png"} }, "caption extension"},
		{"duplicate resolution", func(c *Config) { c.Resolutions = []int{512, 512} }, "twice"},
		{"trigger not UTF-8", func(c *Config) { c.Trigger = "caf\xe9" }, "trigger"},
		{"folder caption not UTF-8", func(c *Config) { c.Folders[0].DefaultCaption = "\xff" }, "default caption"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Folders = []Folder{{Path: dir}}
			tc.setup(&cfg)
			_, _, err := Scan(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.inErr) {
				t.Errorf("error %v, want one containing %q", err, tc.inErr)
			}
		})
	}
}

func TestParseColor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [3]uint8
		ok   bool
	}{{"white", [3]uint8{255, 255, 255}, true}, {"Black", [3]uint8{}, true}, {"#102aFf", [3]uint8{0x10, 0x2a, 0xff}, true}, {"#fff", [3]uint8{}, false}, {"red", [3]uint8{}, false}} {
		c, err := ParseColor(tc.in)
		if (err == nil) != tc.ok || (tc.ok && [3]uint8{c.R, c.G, c.B} != tc.want) {
			t.Errorf("ParseColor(%q) = %v, %v", tc.in, c, err)
		}
	}
}

func TestScanUnlistableSubfolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can list folders without permission")
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"a.png": datatest.PNG(t, datatest.Pattern(20, 20)), "locked/b.png": datatest.PNG(t, datatest.Pattern(20, 20))})
	locked := filepath.Join(dir, "locked")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(locked, 0o755)
	cfg := DefaultConfig()
	cfg.Folders = []Folder{{Path: dir, DefaultCaption: "x"}}
	cfg.MinSide, cfg.Resolutions = 16, []int{16}
	ds, problems, err := Scan(cfg)
	if err != nil || len(ds.Items) != 1 || len(problems) != 1 || problems[0].Path != locked || problems[0].Severity != Error {
		t.Errorf("%v, %d items, problems %v", err, len(ds.Items), problems)
	}
}
