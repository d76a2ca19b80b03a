package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/imageio"
)

// FileStyle is the style of one image file.
type FileStyle struct {
	Path string `json:"path"`
	Style
}

// StyleFiles measures image files; a folder stands for its images (by
// extension, not recursive, sorted by name). Transparency is composited
// over white.
func StyleFiles(paths []string) ([]FileStyle, error) {
	var out []FileStyle
	for _, p := range paths {
		files, err := imageFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			s, err := styleOfFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, FileStyle{Path: f, Style: s})
		}
	}
	return out, nil
}

// imageFiles is p itself, or the images in folder p.
func imageFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("style: %w (give image files or folders of images)", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("style: reading folder %s: %w", p, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && data.IsImageName(e.Name()) {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("style: folder %s holds no images (png, jpg, webp …)", p)
	}
	sort.Strings(files)
	return files, nil
}

// styleOfFile decodes and measures one image.
func styleOfFile(path string) (Style, error) {
	b, err := imageio.ReadFile(path, 0)
	if err != nil {
		return Style{}, fmt.Errorf("style: %w", err)
	}
	img, _, err := imageio.Decode(b, imageio.DefaultOptions())
	if err != nil {
		return Style{}, fmt.Errorf("style: decoding %s: %w", path, err)
	}
	return MeasureStyle(img), nil
}
