package data

import (
	"fmt"
	"path/filepath"

	"github.com/flora-ml/flora/data/imageio"
)

// Loss masks weight the training loss per latent token, so an image can
// train on its subject and (almost) ignore the rest (ai-toolkit mask_path,
// OneTrainer masked training, SimpleTuner conditioning masks):
//
//   - a mask folder parallel to the image folder (Folder.Masks, job key
//     dataset.folders.N.masks): the mask of IMAGES/sub/a.png is
//     MASKS/sub/a.* (any image extension; the same stem matching as
//     control folders). Grayscale, or RGB read as luminance; white trains,
//     black is outside. It must have its image's size (after EXIF
//     orientation): another size is an error and the image is left out.
//     An image without a mask trains unmasked (a warning); a mask matching
//     no image is a warning.
//   - with Config.MaskFromAlpha (dataset.mask_from_alpha), an image with
//     no mask file whose alpha channel is in use (some pixel not opaque)
//     is its own mask: opaque trains, transparent is outside. The pixels
//     are still composited on the background for the latent.
//
// A sample's mask is cropped, resized (Lanczos, as the image) and flipped
// exactly as its image, then averaged over each token's pixels (16×16 for
// FLUX.2: vae.Config.PixelsPerLatent) to m ∈ [0, 1], and the token's loss
// weight is MaskMin + (1 − MaskMin)·m (MaskWeights). The weights are
// computed when a batch is served (data/feed, from the mask file: cheap
// next to a training step, and the latent cache stays mask-free) and kept
// in memory by the feed.

// Mask is the loss mask of an item.
type Mask struct {
	// Path is the mask file, or the image itself when Alpha is set.
	Path string `json:"path"`
	// Alpha: the mask is the image's alpha channel (Config.MaskFromAlpha).
	Alpha bool `json:"alpha,omitempty"`
	// Hash is the hex SHA-256 of the mask file ("" for Alpha).
	Hash string `json:"sha256,omitempty"`
}

// FolderMasks summarises the loss masks of one dataset folder (for `flora
// data check`).
type FolderMasks struct {
	// Folder is the image folder, Masks its mask folder ("" when only
	// alpha channels are used).
	Folder string `json:"folder"`
	Masks  string `json:"masks,omitempty"`
	// Found counts the usable images with a mask file, Alpha those using
	// their alpha channel, Missing those with neither (they train
	// unmasked).
	Found   int `json:"found"`
	Alpha   int `json:"alpha"`
	Missing int `json:"missing"`
	// Extra counts mask files matching no image; WrongSize masks whose
	// size differs from their image's and Unreadable masks that cannot be
	// decoded (their images are left out).
	Extra      int `json:"extra"`
	WrongSize  int `json:"wrong_size"`
	Unreadable int `json:"unreadable"`
}

// HasMasks reports whether any item has a loss mask.
func (d *Dataset) HasMasks() bool {
	for _, it := range d.Items {
		if it.Mask != nil {
			return true
		}
	}
	return false
}

// maskLabel names an item's mask for tables: the file name, "alpha" or
// "none".
func maskLabel(it *Item) string {
	switch {
	case it.Mask == nil:
		return "none"
	case it.Mask.Alpha:
		return "alpha"
	}
	return filepath.Base(it.Mask.Path)
}

// matchMaskFolder gives the candidates of one dataset folder (root) their
// mask file from the mask folder (same relative stem). It returns a
// warning for every mask file matching no image and for a second mask of
// one image.
func matchMaskFolder(root, masks string, cands []candidate, files []string) Problems {
	sm := newStemMatcher(root, cands)
	var extra Problems
	warn := func(path, format string, args ...any) {
		extra = append(extra, Problem{Path: path, Severity: Warning, Kind: ProblemExtraMask, Message: fmt.Sprintf(format, args...)})
	}
	for _, p := range files {
		i, ok := sm.match(masks, p)
		if !ok {
			warn(p, "matches no image in %s (the mask of IMAGE.png is named IMAGE.* in the mask folder, at the same relative path); rename or remove it", root)
			continue
		}
		if c := &cands[i]; c.mask != "" {
			warn(p, "a second mask named %s.* for %s; using %s (remove one)", filepath.Base(stemKey(p)), filepath.Base(c.path), filepath.Base(c.mask))
		} else {
			c.mask = p
		}
	}
	return extra
}

// checkMask decides the mask of a usable candidate whose image decoded to
// info: its mask file (which must decode and have the image's size), its
// alpha channel (with MaskFromAlpha) or none. ok is false when the image
// must be left out (its mask is unusable); problems go on stat.
func (c *candidate) checkMask(info imageio.Info, masks []decoded, index map[string]int, cfg *Config, stat *FolderMasks) (m *Mask, ps Problems, ok bool) {
	folder := cfg.Folders[c.folder]
	if c.mask != "" {
		r := masks[index[c.mask]]
		switch {
		case r.err != nil:
			stat.Unreadable++
			return nil, Problems{{Path: c.mask, Severity: Error, Kind: ProblemUnreadable,
				Message: fmt.Sprintf("%v; it is the mask of %s, which is left out (fix or remove the mask)", r.err, c.path)}}, false
		case r.info.Width != info.Width || r.info.Height != info.Height:
			stat.WrongSize++
			return nil, Problems{{Path: c.mask, Severity: Error, Kind: ProblemMaskSize,
				Message: fmt.Sprintf("mask is %dx%d but its image %s is %dx%d; a mask must have its image's size (resize the mask to %dx%d); the image is left out",
					r.info.Width, r.info.Height, c.path, info.Width, info.Height, info.Width, info.Height)}}, false
		}
		stat.Found++
		return &Mask{Path: c.mask, Hash: r.hash}, nil, true
	}
	if cfg.MaskFromAlpha && info.Translucent {
		stat.Alpha++
		return &Mask{Path: c.path, Alpha: true}, nil, true
	}
	if folder.Masks == "" {
		return nil, nil, true
	}
	stat.Missing++
	hint := ""
	if cfg.MaskFromAlpha {
		hint = ", and it has no transparent pixels for mask_from_alpha"
	}
	s := filepath.Join(filepath.Clean(folder.Masks), relStem(filepath.Clean(folder.Path), c.path))
	return nil, Problems{{Path: c.path, Severity: Warning, Kind: ProblemMissingMask,
		Message: fmt.Sprintf("no mask: expected %s.png (any image extension)%s; it trains unmasked (add the mask to train on part of it)", s, hint)}}, true
}

// MaskWeights returns the loss weights of the tokens of sample s: its
// item's mask cropped, resized and flipped as the image (Pixels), averaged
// over each token's per×per pixels to m ∈ [0, 1], and mapped to
// MaskMin + (1 − MaskMin)·m; (Bucket.Height/per)×(Bucket.Width/per)
// values, row-major as flux2.PackTokens orders the tokens. It returns nil
// when the item has no mask.
func (d *Dataset) MaskWeights(s Sample, per int) ([]float32, error) {
	if s.Item < 0 || s.Item >= len(d.Items) {
		return nil, fmt.Errorf("sample refers to item %d of %d", s.Item, len(d.Items))
	}
	it := &d.Items[s.Item]
	if it.Mask == nil {
		return nil, nil
	}
	src := imageio.MaskLuminance
	if it.Mask.Alpha {
		src = imageio.MaskAlpha
	}
	raw, err := imageio.ReadFile(it.Mask.Path, 0)
	if err != nil {
		return nil, fmt.Errorf("mask %s of %s: %w", it.Mask.Path, it.Path, err)
	}
	plane, info, err := imageio.DecodeMask(raw, src, d.Config.DecodeOptions())
	if err != nil {
		return nil, fmt.Errorf("mask %s of %s: %w", it.Mask.Path, it.Path, err)
	}
	if info.Width != it.Width || info.Height != it.Height {
		return nil, fmt.Errorf("mask %s is %dx%d but its image %s is %dx%d; the files changed since the dataset was scanned (restart to rescan)",
			it.Mask.Path, info.Width, info.Height, it.Path, it.Width, it.Height)
	}
	g, err := imageio.CropResizeGray(plane, s.Crop, s.Bucket.Width, s.Bucket.Height)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", it.Mask.Path, err)
	}
	return TokenWeights(g.Pix, s.Bucket.Width, s.Bucket.Height, per, s.Flip, d.Config.MaskMin)
}

// TokenWeights averages a w×h 8-bit mask plane (row-major; 255 inside, 0
// outside) over per×per cells to m ∈ [0, 1] and returns each cell's loss
// weight maskMin + (1 − maskMin)·m, (h/per)×(w/per) values row-major,
// mirrored left-right when flip (as the flipped image's tokens are). w and
// h must be multiples of per.
func TokenWeights(plane []uint8, w, h, per int, flip bool, maskMin float64) ([]float32, error) {
	if per < 1 || w < per || h < per || w%per != 0 || h%per != 0 {
		return nil, fmt.Errorf("a %dx%d mask does not divide into %dx%d-pixel tokens (bucket sides must be multiples of the pixels per latent)", w, h, per, per)
	}
	if len(plane) < w*h {
		return nil, fmt.Errorf("mask plane of %d pixels for %dx%d", len(plane), w, h)
	}
	tw, th := w/per, h/per
	out := make([]float32, tw*th)
	for ty := range th {
		for tx := range tw {
			sum := 0
			for y := ty * per; y < (ty+1)*per; y++ {
				for _, v := range plane[y*w+tx*per : y*w+(tx+1)*per] {
					sum += int(v)
				}
			}
			m := float64(sum) / float64(255*per*per)
			ox := tx
			if flip {
				ox = tw - 1 - tx
			}
			out[ty*tw+ox] = float32(maskMin + (1-maskMin)*m)
		}
	}
	return out, nil
}
