package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

func TestDataCheck(t *testing.T) {
	dir := t.TempDir()
	_, expected := datatest.ProblemFolder(t, dir)
	res := "--resolution=64"
	minSide := "--min-side=16"
	upscale := "--max-upscale=4" // the fixture images are smaller than 64 px

	code, out, errs := runCLI(t, "data", "check", dir, res, minSide, upscale, "--trigger", "flora")
	if code != 1 {
		t.Errorf("exit code %d, want 1\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "5 file(s) cannot be used") {
		t.Errorf("stderr lacks the error count:\n%s", errs)
	}
	for _, e := range expected {
		line := filepath.Join(dir, filepath.FromSlash(e.Path)) + ": " + e.Severity + ": " + e.Kind
		if !strings.Contains(out, line) {
			t.Errorf("report lacks %q", line)
		}
	}
	testutil.CheckContains(t, "report", out, "rotated.jpg", "32x64", "cmyk.jpg", "jpeg CMYK", "deep16.png", "png RGBA 16-bit", "64:64x64", `"flora, a cmyk image"`, `"an image in flora style, with alpha"`, "Summary: 8 usable image(s)", "5 error(s)")
	if testing.Verbose() {
		t.Log("\n" + out)
	}

	code, _, _ = runCLI(t, "data", "check", dir, res, minSide, upscale, "--allow-errors")
	if code != 0 {
		t.Errorf("--allow-errors: exit code %d, want 0", code)
	}

	code, out, _ = runCLI(t, "data", "check", dir, res, minSide, upscale, "--json", "--trigger=flora")
	var rep dataCheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if code != 1 || rep.Summary.Errors != 5 || rep.Summary.Usable != 8 || len(rep.Problems) != len(expected) || len(rep.Buckets) == 0 {
		t.Errorf("--json: code %d, summary %+v, %d problems (want %d)", code, rep.Summary, len(rep.Problems), len(expected))
	}
}

func TestDataCheckExitCodes(t *testing.T) {
	clean := t.TempDir()
	testutil.WriteFile(t, filepath.Join(clean, "a.png"), datatest.PNG(t, datatest.Pattern(20, 20)))
	empty := t.TempDir()
	broken := t.TempDir()
	testutil.WriteFile(t, filepath.Join(broken, "b.png"), []byte("not a png"))
	tests := []cliCase{
		{[]string{"data", "check", clean, "--resolution", "16", "--min-side", "16"}, 0, "1 usable image(s)", ""},
		{[]string{"data", "check", clean, "--resolution", "16,32", "--resolution", "48", "--min-side", "16"}, 0, "1 warning(s)", ""}, // missing caption
		{[]string{"data", "check", empty}, 1, "No usable images", "no images found in " + empty},
		{[]string{"data", "check", empty, "--allow-errors"}, 1, "", "no images found in " + empty},
		{[]string{"data", "check", clean, empty, "--resolution", "16", "--min-side", "16"}, 0, empty + ": warning: no images: no image files in the folder or its subfolders (looked for .bmp", ""},
		{[]string{"data", "check", broken, "--allow-errors"}, 1, "1 error(s)", "no usable images in " + broken + "; fix the problems listed above"},
		{[]string{"data", "check"}, 2, "", "expected at least one image folder"},
		{[]string{"data", "check", filepath.Join(empty, "nope")}, 1, "", "nope"},
		{[]string{"data", "check", clean, "--resolution", "100"}, 1, "", "multiple of 16"},
		{[]string{"data"}, 2, "", "check"},
		{[]string{"help", "data", "check"}, 0, "--allow-errors", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			tc.check(t)
		})
	}
}

// A control dataset: the references of each image, the folder summary
// (found, missing, extra) in the text and JSON reports, and exit 1 for the
// image without its reference.
func TestDataCheckReferences(t *testing.T) {
	dir := t.TempDir()
	images, control := filepath.Join(dir, "images"), filepath.Join(dir, "control")
	png := func(i int) []byte {
		return datatest.PNG(t, datatest.Split(32, 32, color.NRGBA{uint8(i), 0, 0, 255}, datatest.Right))
	}
	for name, b := range map[string][]byte{
		"images/a.png": png(1), "images/b.png": png(2), "images/c.png": png(3),
		"control/a.png": png(4), "control/b_0.png": png(5), "control/b_1.png": png(6), "control/zzz.png": png(7),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, b)
	}
	args := []string{"data", "check", images, "--control", control, "--resolution=32", "--min-side=16", "--default-caption=x"}
	code, out, errs := runCLI(t, args...)
	if code != 1 || !strings.Contains(errs, "1 file(s) cannot be used") {
		t.Errorf("exit code %d, want 1\n%s\n%s", code, out, errs)
	}
	testutil.CheckContains(t, "report", out, "References:", "b_0.png, b_1.png", "32:32x32 ref 32x32,32x32",
		filepath.Join(images, "c.png")+": error: missing reference: no reference image in the control folder (expected "+filepath.Join(control, "c")+".png",
		filepath.Join(control, "zzz.png")+": warning: extra reference",
		filepath.Join(images, "a.png")+": warning: reference count") // a tie: the larger count is the norm
	row := regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(images) + `\s*│\s*` + regexp.QuoteMeta(control) + `\s*│\s*2\s*│\s*3\s*│\s*1\s*│\s*1\s*│\s*0\s*│`)
	if !row.MatchString(out) {
		t.Errorf("reference table lacks the row images, control, 2 images, 3 references, 1 missing, 1 extra, 0 unusable:\n%s", out)
	}
	if code, _, _ := runCLI(t, append(args, "--allow-errors")...); code != 0 {
		t.Errorf("--allow-errors: exit code %d, want 0", code)
	}

	code, out, _ = runCLI(t, append(args, "--json")...)
	var rep dataCheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	want := []data.FolderReferences{{Folder: images, Control: control, Targets: 2, References: 3, Missing: 1, Extra: 1}}
	if code != 1 || !reflect.DeepEqual(rep.References, want) || len(rep.Items) != 2 || len(rep.Items[1].References) != 2 || rep.Items[1].References[1].Path != filepath.Join(control, "b_1.png") || rep.Items[1].Assignments[0].References[1] != (bucket.Bucket{Width: 32, Height: 32}) {
		t.Errorf("--json: code %d, references %+v, items %+v", code, rep.References, rep.Items)
	}
	for _, tc := range []cliCase{
		{[]string{"data", "check", images, dir, "--control", control}, 2, "", "1 --control folder(s) for 2 image folder(s)"},
		{[]string{"data", "check", images, "--control", filepath.Join(dir, "nope")}, 1, "", "control folder"},
	} {
		tc.check(t)
	}
}

// A dataset with loss masks: the mask of each image in the image table,
// the folder summary (found, alpha, missing, extra, wrong size) in the
// text and JSON reports, and exit 1 for the image whose mask has another
// size, with an error naming both files.
func TestDataCheckMasks(t *testing.T) {
	dir := t.TempDir()
	images, masks := filepath.Join(dir, "images"), filepath.Join(dir, "masks")
	png := func(i, w int) []byte {
		return datatest.PNG(t, datatest.Split(w, 32, color.NRGBA{uint8(i), 0, 0, 255}, datatest.Right))
	}
	clear := datatest.PNG(t, datatest.Split(32, 32, color.NRGBA{0, 9, 0, 255}, color.NRGBA{}))
	for name, b := range map[string][]byte{
		"images/a.png": png(1, 32), "images/b.png": png(2, 32), "images/c.png": png(3, 32), "images/t.png": clear,
		"masks/a.png": png(4, 32), "masks/b.png": png(5, 48), "masks/zzz.png": png(6, 32),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, b)
	}
	args := []string{"data", "check", images, "--masks", masks, "--mask-from-alpha", "--resolution=32", "--min-side=16", "--default-caption=x"}
	code, out, errs := runCLI(t, args...)
	if code != 1 || !strings.Contains(errs, "1 file(s) cannot be used") {
		t.Errorf("exit code %d, want 1\n%s\n%s", code, out, errs)
	}
	testutil.CheckContains(t, "report", out, "Masks:", "WRONG SIZE",
		filepath.Join(masks, "b.png")+": error: mask size: mask is 48x32 but its image "+filepath.Join(images, "b.png")+" is 32x32",
		filepath.Join(images, "c.png")+": warning: missing mask",
		filepath.Join(masks, "zzz.png")+": warning: extra mask")
	row := regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(images) + `\s*│\s*` + regexp.QuoteMeta(masks) + `\s*│\s*1\s*│\s*1\s*│\s*1\s*│\s*1\s*│\s*1\s*│\s*0\s*│`)
	if !row.MatchString(out) {
		t.Errorf("mask table lacks the row images, masks, 1 found, 1 alpha, 1 missing, 1 extra, 1 wrong size, 0 unreadable:\n%s", out)
	}

	code, out, _ = runCLI(t, append(args, "--json")...)
	var rep dataCheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	want := []data.FolderMasks{{Folder: images, Masks: masks, Found: 1, Alpha: 1, Missing: 1, Extra: 1, WrongSize: 1}}
	if code != 1 || !reflect.DeepEqual(rep.Masks, want) || len(rep.Items) != 3 || rep.Items[0].Mask == nil || rep.Items[0].Mask.Path != filepath.Join(masks, "a.png") ||
		rep.Items[1].Mask != nil || rep.Items[2].Mask == nil || !rep.Items[2].Mask.Alpha {
		t.Errorf("--json: code %d, masks %+v, items %+v", code, rep.Masks, rep.Items)
	}
	for _, tc := range []cliCase{
		{[]string{"data", "check", images, dir, "--masks", masks}, 2, "", "1 --masks folder(s) for 2 image folder(s)"},
		{[]string{"data", "check", images, "--masks", filepath.Join(dir, "nope")}, 1, "", "mask folder"},
	} {
		tc.check(t)
	}
}
