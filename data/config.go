// Package data reads training datasets as users prepare them for ai-toolkit
// or kohya: folders of images with same-stem .txt/.caption captions or a
// Hugging Face metadata.jsonl, kohya-style repeats in folder names, and
// for edit/reference training reference (control) images from a parallel
// control folder or metadata.jsonl (references.go). Scan
// checks every file and reports problems (unreadable, too small, missing or
// orphan captions, bad UTF-8, duplicates); Plan fixes a deterministic,
// resumable order of aspect-bucketed batches; Dataset.Pixels decodes, crops,
// resizes and flips one sample (data/cache and data/feed run it in parallel
// and keep the results).
package data

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/imageio"
)

// CropMode chooses where the bucket-shaped crop is taken from an image.
type CropMode string

// The crop modes.
const (
	// CropCenter takes the centre of the image (deterministic; cacheable).
	CropCenter CropMode = "center"
	// CropRandom takes a random position per sample (augmentation).
	CropRandom CropMode = "random"
)

// Folder is one dataset folder, scanned recursively.
type Folder struct {
	// Path of the folder.
	Path string
	// Repeats is how many times each image of the folder is seen per epoch;
	// 0 means "from a kohya-style folder name such as 10_subject, else 1".
	Repeats int
	// DefaultCaption is used for the folder's images without a caption
	// (before the dataset-wide DefaultCaption).
	DefaultCaption string
	// Control is an optional parallel folder of reference (control) images
	// for edit and reference training: the references of PATH/sub/a.png are
	// CONTROL/sub/a.* (any image extension), CONTROL/sub/a_0.*, a_1.*, …
	// (several, by number) and the images of CONTROL/sub/a/ (by name). A
	// target without any is an error. See references.go for the rules.
	Control string
	// Regularization marks class images kept to preserve what the base
	// model already draws (prior preservation, as kohya's reg folders,
	// ai-toolkit's is_reg and diffusers' class images): their captions get
	// no trigger word, and their samples are mixed into the batches by
	// the folder's repeats like any other.
	Regularization bool
	// Weight scales the loss of the folder's samples (0 means 1): e.g. 0.5
	// for regularisation images, as diffusers' prior_loss_weight.
	Weight float64
	// Masks is an optional parallel folder of loss masks: the mask of
	// PATH/sub/a.png is MASKS/sub/a.* (any image extension), white trains,
	// black is outside (see mask.go).
	Masks string
}

// LossWeight is the folder's loss weight (Weight, 1 when unset).
func (f Folder) LossWeight() float64 {
	if f.Weight == 0 {
		return 1
	}
	return f.Weight
}

// Config describes a dataset and how its samples are prepared. Field names
// follow job.DatasetConfig. Start from DefaultConfig.
type Config struct {
	Folders []Folder
	// Trigger replaces {trigger} or [trigger] in captions, or is prepended
	// ("trigger, caption") when the caption does not contain it.
	Trigger string
	// DefaultCaption is used for images with no caption file or entry.
	DefaultCaption string
	// CaptionExtensions are the same-stem caption files looked for, in order
	// of preference.
	CaptionExtensions []string
	// CaptionDropout is the probability that a sample trains on the empty
	// caption.
	CaptionDropout float64
	// ShuffleTags shuffles the comma-separated tags of a caption, keeping
	// the first KeepTokens tags in place.
	ShuffleTags bool
	KeepTokens  int
	// Resolutions are the training resolutions (bucket area ≈ res²). An image
	// trains at every resolution it reaches without upscaling by more than
	// MaxUpscale; one too small for all trains at the smallest.
	Resolutions []int
	MaxUpscale  float64
	// MinSide skips images whose shorter side is below it (pixels).
	MinSide int
	// Crop is center or random.
	Crop CropMode
	// Flip mirrors a sample left-right with probability 1/2.
	Flip bool
	// Background is the colour transparent pixels are composited on:
	// white, black or #rrggbb.
	Background string
	// MaxAspect bounds the aspect ratio of buckets (long/short side).
	MaxAspect float64
	// BucketStep is the width step between buckets (0 = resolution/16).
	BucketStep int
	// MaxPixels refuses larger images (decompression-bomb guard).
	MaxPixels int
	// MaskFromAlpha uses an image's alpha channel as its loss mask when it
	// has transparent pixels and no mask file (see mask.go).
	MaskFromAlpha bool
	// MaskMin is the loss weight outside a mask (in [0, 1]; 0 ignores the
	// outside). A token's weight is MaskMin + (1 − MaskMin)·m for the
	// mask's mean m over the token's pixels.
	MaskMin float64
	// Workers is the number of parallel decoders during Scan
	// (0 = GOMAXPROCS, at most 8).
	Workers int
}

// DefaultConfig returns the defaults (those of job.DatasetConfig): caption
// dropout 0.05, resolutions 512/768/1024, minimum side 256, centre crop,
// white background, .txt then .caption captions.
func DefaultConfig() Config {
	b := bucket.DefaultOptions()
	return Config{
		CaptionExtensions: []string{".txt", ".caption"},
		CaptionDropout:    0.05,
		Resolutions:       []int{512, 768, 1024},
		MaxUpscale:        1.1,
		MinSide:           256,
		Crop:              CropCenter,
		Background:        "white",
		MaxAspect:         b.MaxAspect,
		MaxPixels:         imageio.DefaultMaxPixels,
	}
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Validate reports every invalid field, one per line, naming the field and
// the fix.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Folders) == 0 {
		add("dataset: no folders; give at least one image folder")
	}
	for i, f := range c.Folders {
		if strings.TrimSpace(f.Path) == "" {
			add("dataset folder %d: path is empty", i)
		}
		if f.Control != "" && filepath.Clean(f.Control) == filepath.Clean(f.Path) {
			add("dataset folder %s: the control folder is the image folder itself; give a separate folder of reference images (e.g. %s)", f.Path, filepath.Join(filepath.Dir(filepath.Clean(f.Path)), "control"))
		}
		if f.Masks != "" && filepath.Clean(f.Masks) == filepath.Clean(f.Path) {
			add("dataset folder %s: the mask folder is the image folder itself; give a separate folder of masks (e.g. %s)", f.Path, filepath.Join(filepath.Dir(filepath.Clean(f.Path)), "masks"))
		}
		if f.Masks != "" && f.Control != "" && filepath.Clean(f.Masks) == filepath.Clean(f.Control) {
			add("dataset folder %s: the mask folder is the control folder; give each its own folder", f.Path)
		}
		if f.Weight < 0 || f.Weight > 100 || math.IsNaN(f.Weight) {
			add("dataset folder %s: weight must be in [0, 100] (0 = 1), got %v", f.Path, f.Weight)
		}
		if f.Repeats < 0 || f.Repeats > MaxRepeats {
			add("dataset folder %s: repeats must be in [0, %d] (0 = from the folder name), got %d", f.Path, MaxRepeats, f.Repeats)
		}
	}
	for name, text := range map[string]string{"trigger": c.Trigger, "default caption": c.DefaultCaption} {
		if !utf8.ValidString(text) {
			add("%s %q is not valid UTF-8", name, text)
		}
	}
	for _, f := range c.Folders {
		if !utf8.ValidString(f.DefaultCaption) {
			add("dataset folder %s: default caption %q is not valid UTF-8", f.Path, f.DefaultCaption)
		}
	}
	for _, ext := range c.CaptionExtensions {
		if !strings.HasPrefix(ext, ".") || len(ext) < 2 || isImageExt(ext) {
			add("caption extension %q must start with a dot and not be an image extension", ext)
		}
	}
	if !(c.CaptionDropout >= 0 && c.CaptionDropout <= 1) {
		add("caption dropout must be in [0, 1], got %g", c.CaptionDropout)
	}
	if !(c.MaskMin >= 0 && c.MaskMin <= 1) {
		add("mask min must be in [0, 1] (the loss weight outside a mask), got %g", c.MaskMin)
	}
	if c.KeepTokens < 0 {
		add("keep tokens must be >= 0, got %d", c.KeepTokens)
	}
	if len(c.Resolutions) == 0 {
		add("no resolutions; give at least one, e.g. 512, 768, 1024")
	}
	seen := map[int]bool{}
	for _, r := range c.Resolutions {
		if r < 16 || r > bucket.MaxResolution || r%16 != 0 {
			add("resolution %d must be a multiple of 16 in [16, %d]", r, bucket.MaxResolution)
		}
		if seen[r] {
			add("resolution %d is listed twice", r)
		}
		seen[r] = true
	}
	if !(c.MaxUpscale >= 1 && c.MaxUpscale <= 16) {
		add("max upscale must be in [1, 16], got %g", c.MaxUpscale)
	}
	if c.MinSide < 1 || c.MinSide > 1<<16 {
		add("min side must be in [1, 65536] pixels, got %d", c.MinSide)
	}
	if c.Crop != CropCenter && c.Crop != CropRandom {
		add("crop must be %q or %q, got %q", CropCenter, CropRandom, c.Crop)
	}
	if _, err := ParseColor(c.Background); err != nil {
		add("background: %v", err)
	}
	if err := c.bucketOptions().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxPixels < 1 {
		add("max pixels must be positive, got %d", c.MaxPixels)
	}
	if c.Workers < 0 {
		add("workers must be >= 0, got %d", c.Workers)
	}
	return errors.Join(errs...)
}

// MaxRepeats bounds per-folder repeats.
const MaxRepeats = 10000

func (c *Config) bucketOptions() bucket.Options {
	o := bucket.DefaultOptions()
	o.MaxAspect, o.Step = c.MaxAspect, c.BucketStep
	return o
}

// DecodeOptions returns the image decoding options of the config.
func (c *Config) DecodeOptions() imageio.Options {
	bg, err := ParseColor(c.Background)
	if err != nil {
		bg = color.NRGBA{255, 255, 255, 255}
	}
	return imageio.Options{Background: bg, MaxPixels: c.MaxPixels}
}

// ParseColor parses white, black or #rrggbb.
func ParseColor(s string) (color.NRGBA, error) {
	switch strings.ToLower(s) {
	case "white":
		return color.NRGBA{255, 255, 255, 255}, nil
	case "black":
		return color.NRGBA{0, 0, 0, 255}, nil
	}
	if !hexColor.MatchString(s) {
		return color.NRGBA{}, fmt.Errorf("colour must be white, black or #rrggbb, got %q", s)
	}
	v, _ := strconv.ParseUint(s[1:], 16, 32)
	return color.NRGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}, nil
}
