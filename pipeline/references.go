package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/sample"
)

// referenceImages are the decoded --ref files of a sampling run with the
// SHA-256 of each file's bytes.
type referenceImages struct {
	imgs   []image.Image
	names  []string
	hashes []string
}

// images returns the decoded references (nil for none).
func (r *referenceImages) images() []image.Image {
	if r == nil {
		return nil
	}
	return r.imgs
}

// record is the value of the "references" PNG text chunk: one line per
// reference, in order, "SHA256HEX  NAME" (sha256sum's format; NAME is the
// file's base name).
func (r *referenceImages) record() string {
	lines := make([]string, len(r.names))
	for i := range r.names {
		lines[i] = r.hashes[i] + "  " + r.names[i]
	}
	return strings.Join(lines, "\n")
}

// outputName matches the files Sample writes into an output folder.
var outputName = regexp.MustCompile(`^(\d+-seed\d+|grid)\.png$`)

// checkReferencePaths refuses missing references, folders, and references
// that an output would overwrite (Out itself, checked by Validate with the
// other inputs, or a file of the output folder named like Sample's images).
func checkReferencePaths(o SampleOptions) error {
	for i, p := range o.References {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return fmt.Errorf("ref %s (reference %d): %w; give an existing image file", p, i, err)
		case st.IsDir():
			return fmt.Errorf("ref %s (reference %d) is a folder; give an image file", p, i)
		}
		if o.single() {
			continue
		}
		ost, err := os.Stat(o.Out)
		if err != nil {
			continue
		}
		dst, err := os.Stat(filepath.Dir(p))
		if err == nil && os.SameFile(ost, dst) && outputName.MatchString(filepath.Base(p)) {
			return fmt.Errorf("ref %s (reference %d) is in the output folder %s with the name of an output image; writing there would replace it, copy it elsewhere or choose another --out", p, i, o.Out)
		}
	}
	return nil
}

// loadReferences reads, hashes and decodes the reference files and checks
// their sizes (sample.CheckReferenceSize), before any model loads. Nil for
// none.
func loadReferences(paths []string) (*referenceImages, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	r := &referenceImages{}
	for i, p := range paths {
		data, err := imageio.ReadFile(p, 0)
		if err != nil {
			return nil, fmt.Errorf("ref %s (reference %d): %w", p, i, err)
		}
		img, _, err := imageio.Decode(data, imageio.DefaultOptions())
		if err != nil {
			return nil, fmt.Errorf("ref %s (reference %d): %w; give a PNG, JPEG, WebP, BMP, TIFF or GIF image", p, i, err)
		}
		b := img.Bounds()
		if err := sample.CheckReferenceSize(i, b.Dx(), b.Dy()); err != nil {
			return nil, fmt.Errorf("ref %s: %w", p, err)
		}
		sum := sha256.Sum256(data)
		r.imgs = append(r.imgs, img)
		r.names = append(r.names, filepath.Base(p))
		r.hashes = append(r.hashes, hex.EncodeToString(sum[:]))
	}
	return r, nil
}
