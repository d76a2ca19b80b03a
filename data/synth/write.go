package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
)

// Encode returns the PNG encoding of an example (best compression).
func (e Example) Encode() ([]byte, error) { return encodePNG(e.Name, e.Image) }

// encodePNG returns the PNG encoding of img (best compression); name is
// for errors.
func encodePNG(name string, img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// WriteDir generates the examples and writes NAME.png and NAME.txt for each
// into dir (atomically, file by file). It returns the number of images.
func WriteDir(dir string, opts Options) (int, error) {
	examples, err := Generate(opts)
	if err != nil {
		return 0, err
	}
	return writeExamples(dir, examples)
}

// WriteBaseDir generates the base-pretraining set (GenerateBase) and
// writes NAME.png and NAME.txt for each into dir. It returns the number of
// images.
func WriteBaseDir(dir string, opts BaseOptions) (int, error) {
	examples, err := GenerateBase(opts)
	if err != nil {
		return 0, err
	}
	return writeExamples(dir, examples)
}

// writeExamples writes NAME.png and NAME.txt of each example into dir
// (atomically, file by file).
func writeExamples(dir string, examples []Example) (int, error) {
	for _, e := range examples {
		b, err := e.Encode()
		if err != nil {
			return 0, err
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, e.Name+".png"), b); err != nil {
			return 0, err
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, e.Name+".txt"), []byte(e.Caption+"\n")); err != nil {
			return 0, err
		}
	}
	return len(examples), nil
}

// WriteEdits generates the edit pairs and writes, for each, the target
// NAME.png with its caption NAME.txt into dir and the reference NAME.png
// into control (the control-folder convention: same stem, parallel
// folder; see package data). It returns the number of pairs.
func WriteEdits(dir, control string, opts EditOptions) (int, error) {
	edits, err := GenerateEdits(opts)
	if err != nil {
		return 0, err
	}
	for _, e := range edits {
		target, err := encodePNG(e.Name, e.Target)
		if err != nil {
			return 0, err
		}
		ref, err := encodePNG(e.Name+" (reference)", e.Reference)
		if err != nil {
			return 0, err
		}
		for _, f := range []struct {
			path string
			b    []byte
		}{
			{filepath.Join(dir, e.Name+".png"), target},
			{filepath.Join(dir, e.Name+".txt"), []byte(e.Caption + "\n")},
			{filepath.Join(control, e.Name+".png"), ref},
		} {
			if err := fsutil.WriteFileAtomic(f.path, f.b); err != nil {
				return 0, err
			}
		}
	}
	return len(edits), nil
}
