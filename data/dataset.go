package data

import (
	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/imageio"
)

// Item is one usable image of a dataset.
type Item struct {
	// Path is the image file (the folder path joined with its relative path).
	Path string `json:"path"`
	// Folder indexes Config.Folders.
	Folder int `json:"folder"`
	// Format and ColorModel describe the file ("jpeg", "YCbCr").
	Format     imageio.Format `json:"format"`
	ColorModel string         `json:"color_model"`
	// Width and Height are the displayed size (EXIF orientation applied).
	Width  int `json:"width"`
	Height int `json:"height"`
	// Bytes is the file size; Hash the hex SHA-256 of its content.
	Bytes int64  `json:"bytes"`
	Hash  string `json:"sha256"`
	// Caption is the caption as read (whitespace normalised), before the
	// trigger word, dropout and shuffling are applied.
	Caption string `json:"caption"`
	// CaptionSource names where the caption came from: a caption file, a
	// "metadata.jsonl:LINE", "folder default", "default", or "" for none.
	CaptionSource string `json:"caption_source"`
	// Repeats is how many times the image is seen per epoch and resolution.
	Repeats int `json:"repeats"`
	// Assignments are the buckets the image trains in, one per resolution.
	Assignments []Assignment `json:"assignments"`
	// References are the item's reference (control) images, in order; none
	// for plain text-to-image data. See references.go.
	References []Reference `json:"references,omitempty"`
	// Mask is the item's loss mask (a mask file or its alpha channel); nil
	// trains unmasked. See mask.go.
	Mask *Mask `json:"mask,omitempty"`
}

// Assignment places an item in the bucket of one resolution.
type Assignment struct {
	Resolution int           `json:"resolution"`
	Bucket     bucket.Bucket `json:"bucket"`
	// Scale is the resize factor from the image to the bucket (> 1 upscales).
	Scale float64 `json:"scale"`
	// References is the size each of the item's references trains at at
	// this resolution (ReferenceBucket); nil without references.
	References []bucket.Bucket `json:"references,omitempty"`
}

// Dataset is the result of a Scan: the usable images, in path order, and
// the bucket sets of the configured resolutions.
type Dataset struct {
	Config Config
	Items  []Item
	// Sets holds the bucket set of each resolution, in Config.Resolutions order.
	Sets []bucket.Set
	// References summarises the references of each folder that has a
	// control folder or metadata.jsonl references, in folder order.
	References []FolderReferences
	// Masks summarises the loss masks of each folder that has a mask
	// folder, or of every folder with Config.MaskFromAlpha, in folder order.
	Masks []FolderMasks
}

// BucketKey identifies a bucket of a resolution.
type BucketKey struct {
	Resolution int
	Bucket     bucket.Bucket
}

// BucketCount is how many images and samples per epoch one bucket holds.
type BucketCount struct {
	BucketKey
	Images  int // distinct images
	Samples int // images × repeats
}

// Buckets returns the occupied buckets, by resolution then aspect ratio.
func (d *Dataset) Buckets() []BucketCount {
	counts := map[BucketKey]*BucketCount{}
	for _, it := range d.Items {
		for _, a := range it.Assignments {
			k := BucketKey{a.Resolution, a.Bucket}
			c := counts[k]
			if c == nil {
				c = &BucketCount{BucketKey: k}
				counts[k] = c
			}
			c.Images++
			c.Samples += it.Repeats
		}
	}
	var out []BucketCount
	for _, set := range d.Sets {
		for _, b := range set.Buckets {
			if c := counts[BucketKey{set.Resolution, b}]; c != nil {
				out = append(out, *c)
			}
		}
	}
	return out
}

// SamplesPerEpoch is the number of samples in one epoch: the sum over items
// of repeats × assigned resolutions.
func (d *Dataset) SamplesPerEpoch() int {
	n := 0
	for _, it := range d.Items {
		n += it.Repeats * len(it.Assignments)
	}
	return n
}
