package synth

import (
	"bytes"
	"fmt"
	"image/png"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
)

// Encode returns the PNG encoding of an example (best compression).
func (e Example) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, e.Image); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", e.Name, err)
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
