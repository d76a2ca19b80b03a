package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

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
