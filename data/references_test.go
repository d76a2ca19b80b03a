package data

import (
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/datatest"
)

// refImage returns a w×h PNG whose content differs for every i (so targets
// are never duplicates of each other).
func refImage(t *testing.T, i, w, h int) []byte {
	return datatest.PNG(t, datatest.Split(w, h, color.NRGBA{uint8(i), 10, 20, 255}, color.NRGBA{30, uint8(i), 40, 255}))
}

// refConfig scans dir/images (with control folder dir/CONTROL when control
// is set) at resolution 64.
func refConfig(dir, control string) Config {
	cfg := DefaultConfig()
	cfg.Folders = []Folder{{Path: filepath.Join(dir, "images"), DefaultCaption: "x"}}
	if control != "" {
		cfg.Folders[0].Control = filepath.Join(dir, filepath.FromSlash(control))
	}
	cfg.MinSide, cfg.Resolutions, cfg.MaxUpscale = 16, []int{64}, 4
	return cfg
}

// TestScanReferences covers each naming convention and each reference
// problem: which images become items, their references in order, and the
// problems reported (path relative to the test folder, kind, severity).
func TestScanReferences(t *testing.T) {
	type problem struct{ path, kind, severity string }
	n := 0
	img := func(w, h int) []byte { n++; return refImage(t, n, w, h) }
	sq := func() []byte { return img(32, 32) }
	tests := []struct {
		name    string
		files   map[string][]byte
		control string
		want    map[string][]string // item → references (paths relative to the test folder)
		// problems, in path order
		problems []problem
		// stats is the folder summary: targets, references, missing, extra, unusable
		stats [5]int
	}{
		{"same stem, other extension", map[string][]byte{"images/a.png": sq(), "control/a.jpg": datatest.JPEG(t, datatest.Pattern(32, 32))}, "control",
			map[string][]string{"images/a.png": {"control/a.jpg"}}, nil, [5]int{1, 1, 0, 0, 0}},
		{"numbered, in number order", map[string][]byte{"images/a.png": sq(), "control/a_0.png": sq(), "control/a_1.png": sq(), "control/a_10.png": sq(), "control/a_2.png": sq()}, "control",
			map[string][]string{"images/a.png": {"control/a_0.png", "control/a_1.png", "control/a_2.png", "control/a_10.png"}}, nil, [5]int{1, 4, 0, 0, 0}},
		{"subfolder, in name order", map[string][]byte{"images/a.png": sq(), "control/a/x.png": sq(), "control/a/b.webp": datatest.Pillow(t, "lossy.webp")}, "control",
			map[string][]string{"images/a.png": {"control/a/b.webp", "control/a/x.png"}}, nil, [5]int{1, 2, 0, 0, 0}},
		{"same stem, numbered and subfolder combine", map[string][]byte{"images/a.png": sq(), "control/a.png": sq(), "control/a_0.png": sq(), "control/a/z.png": sq()}, "control",
			map[string][]string{"images/a.png": {"control/a.png", "control/a_0.png", "control/a/z.png"}}, nil, [5]int{1, 3, 0, 0, 0}},
		{"nested image folders mirror", map[string][]byte{"images/5_sub/a.png": sq(), "control/5_sub/a.png": sq()}, "control",
			map[string][]string{"images/5_sub/a.png": {"control/5_sub/a.png"}}, nil, [5]int{1, 1, 0, 0, 0}},
		{"an exact stem wins over a number", map[string][]byte{"images/a.png": sq(), "images/a_1.png": sq(), "control/a.png": sq(), "control/a_1.png": sq()}, "control",
			map[string][]string{"images/a.png": {"control/a.png"}, "images/a_1.png": {"control/a_1.png"}}, nil, [5]int{2, 2, 0, 0, 0}},
		{"control folder inside the image folder", map[string][]byte{"images/a.png": sq(), "images/control/a.png": sq()}, "images/control",
			map[string][]string{"images/a.png": {"images/control/a.png"}}, nil, [5]int{1, 1, 0, 0, 0}},
		{"metadata list, references are not targets", map[string][]byte{"images/a.png": sq(), "images/refs/r2.png": sq(), "images/refs/r1.png": sq(),
			"images/metadata.jsonl": []byte(`{"file_name": "a.png", "control": ["refs/r2.png", "refs/r1.png"]}`)}, "",
			map[string][]string{"images/a.png": {"images/refs/r2.png", "images/refs/r1.png"}}, nil, [5]int{1, 2, 0, 0, 0}},
		{"metadata control_path_N in number order", map[string][]byte{"images/a.png": sq(), "images/r0.png": sq(), "images/r1.png": sq(),
			"images/metadata.jsonl": []byte(`{"file_name": "a.png", "text": "t", "control_path_1": "r1.png", "control_path_0": "r0.png"}`)}, "",
			map[string][]string{"images/a.png": {"images/r0.png", "images/r1.png"}}, nil, [5]int{1, 2, 0, 0, 0}},
		{"metadata control_path string beside the control folder", map[string][]byte{"images/a.png": sq(), "images/b.png": sq(), "images/r.png": sq(), "control/b.png": sq(), "control/a.png": sq(),
			"images/metadata.jsonl": []byte(`{"image_path": "a.png", "caption": "t", "control_path": "r.png"}`)}, "control",
			map[string][]string{"images/a.png": {"images/r.png"}, "images/b.png": {"control/b.png"}},
			[]problem{{"control/a.png", "extra reference", "warning"}}, [5]int{2, 2, 0, 1, 0}},
		{"missing reference", map[string][]byte{"images/a.png": sq(), "images/b.png": sq(), "control/a.png": sq()}, "control",
			map[string][]string{"images/a.png": {"control/a.png"}},
			[]problem{{"images/b.png", "missing reference", "error"}}, [5]int{1, 1, 1, 0, 0}},
		{"extra reference", map[string][]byte{"images/a.png": sq(), "control/a.png": sq(), "control/zzz.png": sq(), "control/a_x.png": sq()}, "control",
			map[string][]string{"images/a.png": {"control/a.png"}},
			[]problem{{"control/a_x.png", "extra reference", "warning"}, {"control/zzz.png", "extra reference", "warning"}}, [5]int{1, 1, 0, 2, 0}},
		{"two references with one stem", map[string][]byte{"images/a.png": sq(), "control/a.png": sq(), "control/a.webp": datatest.Pillow(t, "lossy.webp")}, "control",
			map[string][]string{"images/a.png": {"control/a.png"}},
			[]problem{{"control/a.webp", "extra reference", "warning"}}, [5]int{1, 1, 0, 1, 0}},
		{"unreadable reference", map[string][]byte{"images/a.png": sq(), "images/b.png": sq(), "control/a.png": []byte("not a png"), "control/b.png": sq()}, "control",
			map[string][]string{"images/b.png": {"control/b.png"}},
			[]problem{{"control/a.png", "unreadable", "error"}}, [5]int{1, 1, 0, 0, 1}},
		{"reference too small", map[string][]byte{"images/a.png": sq(), "control/a.png": img(12, 9)}, "control",
			map[string][]string{},
			[]problem{{"control/a.png", "too small", "warning"}}, [5]int{0, 0, 0, 0, 1}},
		{"inconsistent counts", map[string][]byte{"images/a.png": sq(), "images/b.png": sq(), "images/c.png": sq(),
			"control/a_0.png": sq(), "control/a_1.png": sq(), "control/b_0.png": sq(), "control/b_1.png": sq(), "control/c.png": sq()}, "control",
			map[string][]string{"images/a.png": {"control/a_0.png", "control/a_1.png"}, "images/b.png": {"control/b_0.png", "control/b_1.png"}, "images/c.png": {"control/c.png"}},
			[]problem{{"images/c.png", "reference count", "warning"}}, [5]int{3, 5, 0, 0, 0}},
		{"metadata references in part of a folder", map[string][]byte{"images/a.png": sq(), "images/b.png": sq(), "images/r.png": sq(),
			"images/metadata.jsonl": []byte(`{"file_name": "a.png", "control": "r.png"}`)}, "",
			map[string][]string{"images/a.png": {"images/r.png"}, "images/b.png": nil},
			[]problem{{"images/b.png", "reference count", "warning"}}, [5]int{1, 1, 0, 0, 0}},
		{"metadata reference does not exist", map[string][]byte{"images/a.png": sq(), "images/b.png": sq(), "images/r.png": sq(),
			"images/metadata.jsonl": []byte(`{"file_name": "a.png", "control": "gone.png"}` + "\n" + `{"file_name": "b.png", "control": "r.png"}`)}, "",
			map[string][]string{"images/b.png": {"images/r.png"}},
			[]problem{{"images/a.png", "missing reference", "error"}}, [5]int{1, 1, 1, 0, 0}},
		{"metadata control of the wrong type", map[string][]byte{"images/a.png": sq(), "images/metadata.jsonl": []byte(`{"file_name": "a.png", "control": 3}`)}, "",
			map[string][]string{"images/a.png": nil},
			[]problem{{"images/metadata.jsonl", "bad caption", "error"}}, [5]int{-1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			ds, problems, err := Scan(refConfig(dir, tc.control))
			if err != nil {
				t.Fatal(err)
			}
			rel := func(p string) string {
				r, _ := filepath.Rel(dir, p)
				return filepath.ToSlash(r)
			}
			got := map[string][]string{}
			for _, it := range ds.Items {
				var refs []string
				for _, r := range it.References {
					refs = append(refs, rel(r.Path))
				}
				got[rel(it.Path)] = refs
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("items and references\n got %v\nwant %v", got, tc.want)
			}
			var gotP []problem
			for _, p := range problems {
				gotP = append(gotP, problem{rel(p.Path), string(p.Kind), string(p.Severity)})
				if !strings.Contains(p.Message, " ") || p.Message == "" {
					t.Errorf("problem %v has no message", p)
				}
			}
			if fmt.Sprint(gotP) != fmt.Sprint(tc.problems) {
				t.Errorf("problems\n got %v\nwant %v\n%v", gotP, tc.problems, problems)
			}
			if tc.stats[0] < 0 {
				return
			}
			if len(ds.References) != 1 {
				t.Fatalf("folder summaries %+v, want one", ds.References)
			}
			st := ds.References[0]
			if g := [5]int{st.Targets, st.References, st.Missing, st.Extra, st.Unusable}; g != tc.stats {
				t.Errorf("folder summary %+v, want targets, references, missing, extra, unusable = %v", st, tc.stats)
			}
		})
	}
}

// The messages name the file and the fix.
func TestScanReferenceMessages(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"images/sub/b.png": refImage(t, 1, 32, 32), "images/a.png": refImage(t, 2, 32, 32), "control/a.png": refImage(t, 3, 32, 32), "control/q.png": refImage(t, 4, 32, 32)})
	_, problems, err := Scan(refConfig(dir, "control"))
	if err != nil || len(problems) != 2 {
		t.Fatalf("%v %v", err, problems)
	}
	want := filepath.Join(dir, "control", "sub", "b")
	for _, in := range []string{want + ".png", want + "_0.png", "b_1.png", want + string(filepath.Separator), "add it or remove the image"} {
		if !strings.Contains(problems[1].Message, in) {
			t.Errorf("missing-reference message %q lacks %q", problems[1].Message, in)
		}
	}
	if !strings.Contains(problems[0].Message, "matches no image in "+filepath.Join(dir, "images")) {
		t.Errorf("extra-reference message %q", problems[0].Message)
	}
}

func TestScanReferenceErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"images/a.png": refImage(t, 1, 32, 32), "file.png": refImage(t, 2, 32, 32)})
	for _, tc := range []struct{ control, inErr string }{
		{"nope", "control folder"},
		{"file.png", "is a file"},
		{"images", "the control folder is the image folder itself"},
	} {
		_, _, err := Scan(refConfig(dir, tc.control))
		if err == nil || !strings.Contains(err.Error(), tc.inErr) {
			t.Errorf("control %s: error %v, want one containing %q", tc.control, err, tc.inErr)
		}
	}
}

// ReferenceBucket: a reference keeps its own aspect ratio at the target's
// resolution; the assignments carry the size of every reference.
func TestReferenceBucket(t *testing.T) {
	set, err := bucket.Generate(512, bucket.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		w, h int
		want bucket.Bucket
	}{
		{1024, 1024, bucket.Bucket{Width: 512, Height: 512}},
		{300, 300, bucket.Bucket{Width: 512, Height: 512}}, // upscaled like targets
		{1200, 600, bucket.Bucket{Width: 736, Height: 352}},
		{600, 1200, bucket.Bucket{Width: 352, Height: 736}},
		{4000, 3000, bucket.Bucket{Width: 576, Height: 448}},
		{5000, 1000, bucket.Bucket{Width: 736, Height: 352}}, // beyond the aspect limit: the widest bucket (816x320 would be 2.55)
	} {
		if got := ReferenceBucket(set, tc.w, tc.h); got != tc.want {
			t.Errorf("ReferenceBucket(%dx%d) = %v, want %v", tc.w, tc.h, got, tc.want)
		}
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"images/a.png": refImage(t, 1, 64, 64), "control/a_0.png": refImage(t, 2, 128, 64), "control/a_1.png": refImage(t, 3, 64, 64)})
	cfg := refConfig(dir, "control")
	cfg.Resolutions = []int{32, 64}
	ds, problems, err := Scan(cfg)
	if err != nil || len(problems) != 0 || len(ds.Items) != 1 {
		t.Fatalf("%v %v %+v", err, problems, ds)
	}
	var got []string
	for _, a := range ds.Items[0].Assignments {
		got = append(got, fmt.Sprintf("%d:%v%v", a.Resolution, a.Bucket, a.References))
	}
	sort.Strings(got)
	// At 32 the only bucket is 32x32; at 64 the 2:1 reference takes 80x48
	// (the widest within the aspect limit), the square one 64x64.
	if want := "[32:32x32[32x32 32x32] 64:64x64[80x48 64x64]]"; fmt.Sprint(got) != want {
		t.Errorf("assignments %v, want %s", got, want)
	}
}

// withReferences gives the items of a synthDataset references: item i one
// square reference when i%3 == 0, one wide (the target's own shape when it
// is wide) when i%3 == 1, none otherwise; the assignments get their sizes.
func withReferences(ds *Dataset) {
	for i := range ds.Items {
		it := &ds.Items[i]
		switch i % 3 {
		case 0:
			it.References = []Reference{{Path: fmt.Sprintf("ref%02d.png", i), Width: 300, Height: 300}}
		case 1:
			it.References = []Reference{{Path: fmt.Sprintf("ref%02d.png", i), Width: 320, Height: 180}}
		}
		for a := range it.Assignments {
			for _, set := range ds.Sets {
				if set.Resolution == it.Assignments[a].Resolution {
					it.Assignments[a].References = referenceBuckets(set, it.References)
				}
			}
		}
	}
}

// Pairs stay together: every batch holds samples of one bucket whose
// references have the same count and sizes; each reference is cropped at
// the target's offset and flipped with it; every epoch covers each sample
// once; the latent variants cover every planned reference.
func TestPlanKeepsReferencesTogether(t *testing.T) {
	ds := synthDataset(9, func(c *Config) { c.Flip = true; c.Crop = CropRandom })
	withReferences(ds)
	p, err := NewPlan(ds, PlanOptions{Seed: 3, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Groups at 64: square targets {0,6: square ref; 2,8: none; 4: wide ref},
	// wide targets {1,7: wide ref; 3: square ref; 5: none}; item 0 at 128.
	// Samples (repeats 1+i%3): sq/sq 1+1=2, sq/none 3+3=6, sq/wide 2,
	// wide/wide 2+2=4, wide/sq 1, wide/none 3, 128 1 → batches of 2:
	// 1+3+1+2+1+2+1.
	if got := p.BatchesPerEpoch(); got != 11 {
		t.Errorf("%d batches per epoch, want 11", got)
	}
	for epoch := 0; epoch < 3; epoch++ {
		seen := map[int]int{}
		for _, b := range epochSamples(t, p, epoch) {
			for _, s := range b {
				seen[s.Item]++
				it := &ds.Items[s.Item]
				if len(s.References) != len(it.References) || s.Bucket != b[0].Bucket || len(s.References) != len(b[0].References) {
					t.Fatalf("batch mixes %+v and %+v", b[0], s)
				}
				for j, r := range s.References {
					if r.Bucket != b[0].References[j].Bucket {
						t.Fatalf("batch mixes reference sizes: %+v and %+v", b[0], s)
					}
					if it.References[j].Width == it.Width && it.References[j].Height == it.Height && r.Crop != s.Crop {
						t.Errorf("item %d: reference of the target's shape cropped at %v, target at %v", s.Item, r.Crop, s.Crop)
					}
					if want := bucket.CropRect(it.References[j].Width, it.References[j].Height, r.Bucket, 0); !r.Crop.In(image.Rect(0, 0, it.References[j].Width, it.References[j].Height)) || r.Crop.Size() != want.Size() {
						t.Errorf("item %d: reference crop %v, want the size of %v", s.Item, r.Crop, want)
					}
				}
			}
		}
		for i, it := range ds.Items {
			if seen[i] != it.Repeats*len(it.Assignments) {
				t.Errorf("epoch %d: item %d seen %d times, want %d", epoch, i, seen[i], it.Repeats*len(it.Assignments))
			}
		}
	}
	ds.Config.Crop = CropCenter
	lv, err := ds.LatentVariants()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range lv {
		if want := sampleReferences(&ds.Items[v.Item], ds.Items[v.Item].Assignments[0], 0.5); v.Resolution == 64 && !reflect.DeepEqual(v.References, want) {
			t.Errorf("variant %+v: references %+v, want %+v", v, v.References, want)
		}
	}
}
