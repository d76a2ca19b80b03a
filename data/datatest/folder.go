package datatest

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

// Expect is one finding a scan of the problem folder must report, with the
// path relative to the folder, the problem kind and severity as
// data.ProblemKind / data.Severity strings, and a piece of the message.
type Expect struct {
	Path, Kind, Severity, InMessage string
}

// Good names the images of the problem folder that must decode, with their
// displayed size and the expected colours at two points.
type Good struct {
	Path          string
	Width, Height int
	// At1/At2 are points and their colours (±Tol per channel).
	At1, At2   image.Point
	Col1, Col2 color.NRGBA
	Tol        int
	Repeats    int
	Caption    string // as read (before trigger processing); "" = none
}

// The scan settings the problem folder is made for: every good image has a
// shorter side of at least MinSide, the 12×9 image does not.
const (
	MinSide    = 16
	Resolution = 64
)

// ProblemFolder writes, under dir, a dataset folder with one of every kind
// of file Flora must handle: good images in every tricky encoding (RGBA
// PNG, 16-bit PNG, CMYK JPEG, EXIF-rotated JPEG, kohya repeats folder,
// metadata.jsonl caption) and every problem (truncated JPEG, empty file,
// text named .jpg, 12×9 image, image without caption, orphan caption,
// Latin-1 caption, duplicate, malformed and dangling metadata lines).
func ProblemFolder(t testing.TB, dir string) (good []Good, problems []Expect) {
	t.Helper()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	caption := func(name, text string) { write(name, []byte(text)) }
	white := color.NRGBA{255, 255, 255, 255}
	// Right half at alpha 64 over white: c·64/255 + 255·191/255, rounded.
	rightOnWhite := color.NRGBA{196, 231, 246, 255}

	alpha := PNG(t, Split(48, 32, Left, color.NRGBA{Right.R, Right.G, Right.B, 64}))
	write("alpha.png", alpha)
	caption("alpha.txt", "an image in {trigger} style,\n with alpha ")
	good = append(good, Good{Path: "alpha.png", Width: 48, Height: 32, At1: image.Pt(8, 16), Col1: Left, At2: image.Pt(40, 16), Col2: rightOnWhite, Repeats: 1, Caption: "an image in {trigger} style, with alpha"})

	write("deep16.png", PNG(t, Split16(48, 32, Left, Right)))
	caption("deep16.caption", "a deep image")
	good = append(good, Good{Path: "deep16.png", Width: 48, Height: 32, At1: image.Pt(8, 16), Col1: Left, At2: image.Pt(40, 16), Col2: Right, Repeats: 1, Caption: "a deep image"})

	write("cmyk.jpg", Pillow(t, "cmyk.jpg"))
	caption("cmyk.txt", "a cmyk image")
	good = append(good, Good{Path: "cmyk.jpg", Width: 32, Height: 16, At1: image.Pt(4, 8), Col1: Left, At2: image.Pt(28, 8), Col2: Right, Tol: 3, Repeats: 1, Caption: "a cmyk image"})

	// Stored 64×32 (left Left, right Right) with orientation 6 (rotate 90°
	// clockwise): displayed 32×64, stored left half on top.
	write("rotated.jpg", JPEGWithExif(JPEG(t, Split(64, 32, Left, Right)), 6, false))
	caption("rotated.txt", "a rotated image")
	good = append(good, Good{Path: "rotated.jpg", Width: 32, Height: 64, At1: image.Pt(16, 10), Col1: Left, At2: image.Pt(16, 54), Col2: Right, Tol: 6, Repeats: 1, Caption: "a rotated image"})

	write("nocaption.png", PNG(t, Split(40, 40, white, white)))
	good = append(good, Good{Path: "nocaption.png", Width: 40, Height: 40, At1: image.Pt(1, 1), Col1: white, At2: image.Pt(39, 39), Col2: white, Repeats: 1})
	problems = append(problems, Expect{"nocaption.png", "missing caption", "warning", "no caption"})

	write("10_dog/dog.png", PNG(t, Split(32, 32, Right, Left)))
	caption("10_dog/dog.txt", "a dog")
	good = append(good, Good{Path: "10_dog/dog.png", Width: 32, Height: 32, At1: image.Pt(4, 4), Col1: Right, At2: image.Pt(28, 4), Col2: Left, Repeats: 10, Caption: "a dog"})

	write("meta/m.png", PNG(t, Split(32, 32, Left, Left)))
	write("meta/metadata.jsonl", []byte(`{"file_name": "m.png", "text": "from metadata"}`+"\n{oops\n"+`{"file_name": "gone.png", "text": "x"}`+"\n"))
	good = append(good, Good{Path: "meta/m.png", Width: 32, Height: 32, At1: image.Pt(4, 4), Col1: Left, At2: image.Pt(28, 4), Col2: Left, Repeats: 1, Caption: "from metadata"})
	problems = append(problems,
		Expect{"meta/metadata.jsonl", "bad caption", "error", "line 2"},
		Expect{"meta/metadata.jsonl:3", "orphan caption", "warning", "gone.png"})

	write("dup.png", alpha)
	caption("dup.txt", "the same image again")
	good = append(good, Good{Path: "dup.png", Width: 48, Height: 32, At1: image.Pt(8, 16), Col1: Left, At2: image.Pt(40, 16), Col2: rightOnWhite, Repeats: 1, Caption: "the same image again"})
	problems = append(problems, Expect{"dup.png", "duplicate", "warning", "alpha.png"})

	jpg := JPEG(t, Pattern(64, 64))
	write("truncated.jpg", jpg[:len(jpg)/2])
	caption("truncated.txt", "cut short")
	problems = append(problems, Expect{"truncated.jpg", "unreadable", "error", "truncated JPEG"})

	write("empty.png", nil)
	problems = append(problems, Expect{"empty.png", "unreadable", "error", "empty file"})

	write("notes.jpg", []byte("remember to caption the photos\n"))
	problems = append(problems, Expect{"notes.jpg", "unreadable", "error", "not an image"})

	write("tiny.png", PNG(t, Pattern(12, 9)))
	caption("tiny.txt", "tiny")
	problems = append(problems, Expect{"tiny.png", "too small", "warning", "12x9"})

	caption("orphan.txt", "nobody's caption")
	problems = append(problems, Expect{"orphan.txt", "orphan caption", "warning", "orphan.*"})

	write("latin1.png", PNG(t, Split(32, 32, Right, Right)))
	write("latin1.txt", []byte("caf\xe9 au lait"))
	problems = append(problems, Expect{"latin1.txt", "bad UTF-8", "error", "offset 3"})
	return good, problems
}
