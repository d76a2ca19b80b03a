package data

import (
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/datatest"
)

// leftHalf is a w×h 8-bit plane, 255 in the left half and 0 in the right.
func leftHalf(w, h int) []uint8 {
	p := make([]uint8, w*h)
	for y := range h {
		for x := range w / 2 {
			p[y*w+x] = 255
		}
	}
	return p
}

// TestTokenWeights: averaging a hand-made mask down to 16×16-pixel tokens
// gives the exact weights (a 32×32 mask with a white left half: 1 in the
// left token column, mask_min in the right; mirrored with flip; a token
// half inside weighs mask_min + (1 − mask_min)/2).
func TestTokenWeights(t *testing.T) {
	half16 := leftHalf(16, 16) // one token, half inside
	tests := []struct {
		name    string
		plane   []uint8
		w, h    int
		flip    bool
		maskMin float64
		want    []float32
		wantErr string
	}{
		{"left half, mask_min 0", leftHalf(32, 32), 32, 32, false, 0, []float32{1, 0, 1, 0}, ""},
		{"left half, mask_min 0.1", leftHalf(32, 32), 32, 32, false, 0.1, []float32{1, 0.1, 1, 0.1}, ""},
		{"left half flipped", leftHalf(32, 32), 32, 32, true, 0.1, []float32{0.1, 1, 0.1, 1}, ""},
		{"left half of a wide mask", leftHalf(64, 16), 64, 16, false, 0.25, []float32{1, 1, 0.25, 0.25}, ""},
		{"token half inside", half16, 16, 16, false, 0.1, []float32{0.55}, ""},
		{"mask_min 1 ignores the mask", leftHalf(32, 32), 32, 32, false, 1, []float32{1, 1, 1, 1}, ""},
		{"side not a multiple of 16", leftHalf(24, 32), 24, 32, false, 0, nil, "a 24x32 mask does not divide into 16x16-pixel tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TokenWeights(tc.plane, tc.w, tc.h, 16, tc.flip, tc.maskMin)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("weights %v, want %v", got, tc.want)
			}
		})
	}
}

// maskConfig scans dir/images with the mask folder dir/masks at
// resolution 64.
func maskConfig(dir string, fromAlpha bool, maskMin float64) Config {
	cfg := refConfig(dir, "")
	cfg.Folders[0].Masks = filepath.Join(dir, "masks")
	cfg.MaskFromAlpha, cfg.MaskMin = fromAlpha, maskMin
	return cfg
}

// TestScanMasks: mask files match images by stem (any extension), an
// image with transparent pixels uses its alpha channel with
// mask_from_alpha, a mask of another size is an error naming both files
// (its image is left out), a missing mask and a mask without image are
// warnings; the folder summary counts each.
func TestScanMasks(t *testing.T) {
	white, black := color.NRGBA{255, 255, 255, 255}, color.NRGBA{0, 0, 0, 255}
	clear := color.NRGBA{10, 20, 30, 0}
	n := 0
	img := func() []byte { n++; return refImage(t, n, 64, 64) }
	mask := func(w, h int) []byte { return datatest.PNG(t, datatest.Split(w, h, white, black)) }
	alpha := datatest.PNG(t, datatest.Split(64, 64, color.NRGBA{200, 0, 0, 255}, clear))
	type problem struct{ path, kind, severity string }
	tests := []struct {
		name      string
		files     map[string][]byte
		fromAlpha bool
		want      map[string]string // item → its mask ("alpha", a path, "" for none)
		problems  []problem
		stats     FolderMasks // Folder and Masks are not compared
	}{
		{"same stem, any extension", map[string][]byte{"images/a.png": img(), "masks/a.jpg": datatest.JPEG(t, datatest.Split(64, 64, white, black))}, false,
			map[string]string{"images/a.png": "masks/a.jpg"}, nil, FolderMasks{Found: 1}},
		{"nested folders mirror", map[string][]byte{"images/5_sub/a.png": img(), "masks/5_sub/a.png": mask(64, 64)}, false,
			map[string]string{"images/5_sub/a.png": "masks/5_sub/a.png"}, nil, FolderMasks{Found: 1}},
		{"mask folder inside the image folder", map[string][]byte{"images/a.png": img(), "images/masks/a.png": mask(64, 64)}, false,
			map[string]string{"images/a.png": "images/masks/a.png"}, nil, FolderMasks{Found: 1}},
		{"wrong size", map[string][]byte{"images/a.png": img(), "images/b.png": img(), "masks/a.png": mask(32, 32), "masks/b.png": mask(64, 64)}, false,
			map[string]string{"images/b.png": "masks/b.png"}, []problem{{"masks/a.png", "mask size", "error"}}, FolderMasks{Found: 1, WrongSize: 1}},
		{"unreadable mask", map[string][]byte{"images/a.png": img(), "masks/a.png": []byte("not a png")}, false,
			map[string]string{}, []problem{{"masks/a.png", "unreadable", "error"}}, FolderMasks{Unreadable: 1}},
		{"missing and extra", map[string][]byte{"images/a.png": img(), "images/b.png": img(), "masks/a.png": mask(64, 64), "masks/zzz.png": mask(64, 64)}, false,
			map[string]string{"images/a.png": "masks/a.png", "images/b.png": ""},
			[]problem{{"images/b.png", "missing mask", "warning"}, {"masks/zzz.png", "extra mask", "warning"}}, FolderMasks{Found: 1, Missing: 1, Extra: 1}},
		{"alpha when no mask file", map[string][]byte{"images/a.png": img(), "images/t.png": alpha, "masks/a.png": mask(64, 64)}, true,
			map[string]string{"images/a.png": "masks/a.png", "images/t.png": "alpha"}, nil, FolderMasks{Found: 1, Alpha: 1}},
		{"alpha off: transparent image missing", map[string][]byte{"images/t.png": alpha, "masks/x.png": mask(64, 64)}, false,
			map[string]string{"images/t.png": ""},
			[]problem{{"images/t.png", "missing mask", "warning"}, {"masks/x.png", "extra mask", "warning"}}, FolderMasks{Missing: 1, Extra: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			cfg := maskConfig(dir, tc.fromAlpha, 0)
			if strings.Contains(tc.name, "inside") {
				cfg.Folders[0].Masks = filepath.Join(dir, "images", "masks")
			}
			ds, problems, err := Scan(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rel := func(p string) string {
				r, _ := filepath.Rel(dir, p)
				return filepath.ToSlash(r)
			}
			got := map[string]string{}
			for _, it := range ds.Items {
				switch {
				case it.Mask == nil:
					got[rel(it.Path)] = ""
				case it.Mask.Alpha:
					got[rel(it.Path)] = "alpha"
				default:
					got[rel(it.Path)] = rel(it.Mask.Path)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("items and masks\n got %v\nwant %v", got, tc.want)
			}
			var gotP []problem
			for _, p := range problems {
				gotP = append(gotP, problem{rel(p.Path), string(p.Kind), string(p.Severity)})
			}
			if fmt.Sprint(gotP) != fmt.Sprint(tc.problems) {
				t.Errorf("problems\n got %v\nwant %v\n%v", gotP, tc.problems, problems)
			}
			for _, p := range problems {
				if p.Kind == ProblemMaskSize && !(strings.Contains(p.Message, "mask is 32x32 but its image "+filepath.Join(dir, "images", "a.png")+" is 64x64") && strings.Contains(p.Message, "resize the mask to 64x64")) {
					t.Errorf("mask size message %q does not name the image, both sizes and the fix", p.Message)
				}
			}
			if len(ds.Masks) != 1 {
				t.Fatalf("mask summaries %+v, want one", ds.Masks)
			}
			st := ds.Masks[0]
			st.Folder, st.Masks = "", ""
			if st != tc.stats {
				t.Errorf("summary %+v, want %+v", st, tc.stats)
			}
		})
	}
}

// TestMaskWeights: a sample's token weights follow its mask through the
// crop, resize and flip of its image: a 128×64 image with a mask (or an
// alpha channel) whose left half is inside, at a 64×64 bucket (centre
// crop of the middle 64 columns, 4×4 tokens of 16 px): the crop holds 32
// columns inside, then 32 outside → token columns 1, 1, min, min; with
// flip mirrored. A 128×64 target resized to 64×32 (no crop) keeps the
// halves: the same columns in 2 rows.
func TestMaskWeights(t *testing.T) {
	white, black := color.NRGBA{255, 255, 255, 255}, color.NRGBA{0, 0, 0, 255}
	files := map[string][]byte{
		"images/a.png": refImage(t, 1, 128, 64),
		"masks/a.png":  datatest.PNG(t, datatest.Split(128, 64, white, black)),
		// RGB mask read as luminance: red (76/255) left, black right.
		"images/b.png": refImage(t, 2, 128, 64),
		"masks/b.png":  datatest.PNG(t, datatest.Split(128, 64, color.NRGBA{255, 0, 0, 255}, black)),
		"images/t.png": datatest.PNG(t, datatest.Split(128, 64, color.NRGBA{0, 200, 0, 255}, color.NRGBA{0, 0, 0, 0})),
		"images/u.png": refImage(t, 3, 64, 64), // no mask: nil weights
	}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	cfg := maskConfig(dir, true, 0.2)
	ds, problems, err := Scan(cfg)
	if err != nil || problems.Err() != nil {
		t.Fatal(err, problems)
	}
	item := map[string]int{}
	for i, it := range ds.Items {
		item[filepath.Base(it.Path)] = i
	}
	const lo = float32(0.2)
	red := float32(0.2 + 0.8*76.0/255) // color.GrayModel: (19595·255·257 + 1<<15) >> 24 = 76
	// Crops of the bucket's size are copied (exact weights); a resize
	// runs the image's Lanczos filter, whose ringing at the edge moves the
	// two middle columns' averages slightly.
	tests := []struct {
		name   string
		item   string
		crop   image.Rectangle
		w, h   int
		flip   bool
		want   []float32
		tol    float32
		hasNil bool
	}{
		{"centre crop", "a.png", image.Rect(32, 0, 96, 64), 64, 64, false, slices.Repeat([]float32{1, 1, lo, lo}, 4), 0, false},
		{"centre crop flipped", "a.png", image.Rect(32, 0, 96, 64), 64, 64, true, slices.Repeat([]float32{lo, lo, 1, 1}, 4), 0, false},
		{"resized", "a.png", image.Rect(0, 0, 128, 64), 64, 32, false, slices.Repeat([]float32{1, 1, lo, lo}, 2), 0.02, false},
		{"luminance of an RGB mask", "b.png", image.Rect(32, 0, 96, 64), 64, 64, false, slices.Repeat([]float32{red, red, lo, lo}, 4), 1e-6, false},
		{"alpha channel", "t.png", image.Rect(32, 0, 96, 64), 64, 64, false, slices.Repeat([]float32{1, 1, lo, lo}, 4), 0, false},
		{"no mask", "u.png", image.Rect(0, 0, 64, 64), 64, 64, false, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ds.MaskWeights(Sample{Item: item[tc.item], Bucket: bucket.Bucket{Width: tc.w, Height: tc.h}, Crop: tc.crop, Flip: tc.flip}, 16)
			if err != nil {
				t.Fatal(err)
			}
			if tc.hasNil != (got == nil) || !slices.EqualFunc(got, tc.want, func(a, b float32) bool { return a-b <= tc.tol && b-a <= tc.tol }) {
				t.Errorf("weights %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMaskConfigValidate: mask_min outside [0, 1] and a mask folder that
// is the image or control folder are errors naming the setting.
func TestMaskConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"mask min above 1", func(c *Config) { c.MaskMin = 1.5 }, "mask min must be in [0, 1]"},
		{"mask min negative", func(c *Config) { c.MaskMin = -0.1 }, "mask min must be in [0, 1]"},
		{"mask folder is the image folder", func(c *Config) { c.Folders[0].Masks = "data/x/" }, "the mask folder is the image folder itself"},
		{"mask folder is the control folder", func(c *Config) { c.Folders[0].Masks, c.Folders[0].Control = "m", "m" }, "the mask folder is the control folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Folders = []Folder{{Path: "data/x"}}
			tc.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	c := DefaultConfig()
	c.Folders = []Folder{{Path: "data/x", Masks: "data/m"}}
	c.MaskMin = 1
	if err := c.Validate(); err != nil {
		t.Errorf("valid mask config: %v", err)
	}
}
