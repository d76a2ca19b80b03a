package data

import (
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
)

// WriteBucketTable prints the occupied buckets: resolution, size, aspect
// ratio, images and samples per epoch, with a total line. The trainer
// prints it at start.
func (d *Dataset) WriteBucketTable(w io.Writer) error {
	t := tablewriter.NewTable(w)
	t.Header("Resolution", "Bucket", "Aspect", "Images", "Samples/epoch")
	images, samples := 0, 0
	for _, b := range d.Buckets() {
		images += b.Images
		samples += b.Samples
		if err := t.Append(fmt.Sprint(b.Resolution), b.Bucket.String(), fmt.Sprintf("%.2f", b.Bucket.Aspect()), fmt.Sprint(b.Images), fmt.Sprint(b.Samples)); err != nil {
			return err
		}
	}
	t.Footer("total", fmt.Sprintf("%d buckets", len(d.Buckets())), "", fmt.Sprint(images), fmt.Sprint(samples))
	return t.Render()
}

// WriteItemTable prints one row per usable image: path, size, format,
// buckets per resolution, repeats and caption (source and the start of
// the text with the trigger word applied).
func (d *Dataset) WriteItemTable(w io.Writer) error {
	t := tablewriter.NewTable(w)
	t.Header("Image", "Size", "Format", "Buckets", "Repeats", "Caption")
	rules := d.Config.CaptionRules()
	for _, it := range d.Items {
		var bs []string
		for _, a := range it.Assignments {
			s := fmt.Sprintf("%d:%v", a.Resolution, a.Bucket)
			if a.Scale > 1 {
				s += fmt.Sprintf(" (×%.2f)", a.Scale)
			}
			bs = append(bs, s)
		}
		caption := "none"
		if it.CaptionSource != "" {
			caption = fmt.Sprintf("%s: %q", captionSourceLabel(it.CaptionSource), ellipsize(rules.WithTrigger(it.Caption), 48))
		}
		if err := t.Append(it.Path, fmt.Sprintf("%dx%d", it.Width, it.Height), it.Format.String()+" "+it.ColorModel,
			strings.Join(bs, " "), fmt.Sprint(it.Repeats), caption); err != nil {
			return err
		}
	}
	return t.Render()
}

// captionSourceLabel shortens a caption source for tables: the extension of
// a caption file, "metadata" for a metadata.jsonl entry, or the label.
func captionSourceLabel(src string) string {
	switch {
	case strings.Contains(src, MetadataFile+":"):
		return "metadata"
	case src == "default" || src == "folder default":
		return src
	}
	if i := strings.LastIndexByte(src, '.'); i >= 0 {
		return src[i:]
	}
	return src
}

// ellipsize shortens s to at most n runes, ending with "…" when cut.
func ellipsize(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
