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
	refs, masks := d.HasReferences(), d.HasMasks()
	header := []any{"Image", "Size", "Format", "Buckets", "Repeats", "Caption"}
	if refs {
		header = append(header, "References")
	}
	if masks {
		header = append(header, "Mask")
	}
	t.Header(header...)
	for i := range d.Items {
		it := &d.Items[i]
		var bs []string
		for _, a := range it.Assignments {
			s := fmt.Sprintf("%d:%v", a.Resolution, a.Bucket)
			if a.Scale > 1 {
				s += fmt.Sprintf(" (×%.2f)", a.Scale)
			}
			if len(a.References) > 0 {
				rs := make([]string, len(a.References))
				for i, b := range a.References {
					rs[i] = b.String()
				}
				s += " ref " + strings.Join(rs, ",")
			}
			bs = append(bs, s)
		}
		caption := "none"
		if it.CaptionSource != "" {
			caption = fmt.Sprintf("%s: %q", captionSourceLabel(it.CaptionSource), ellipsize(d.CaptionRulesOf(it).WithTrigger(it.Caption), 48))
		}
		row := []any{it.Path, fmt.Sprintf("%dx%d", it.Width, it.Height), it.Format.String() + " " + it.ColorModel,
			strings.Join(bs, " "), fmt.Sprint(it.Repeats), caption}
		if refs {
			row = append(row, referenceList(it))
		}
		if masks {
			row = append(row, maskLabel(it))
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

// WriteReferenceTable prints one row per folder with reference images:
// the folder, its control folder (or "metadata.jsonl"), the images with
// references, the references they use, and the images left out for a
// missing reference, the control images matching no image, and the
// unusable (unreadable or too small) references.
func (d *Dataset) WriteReferenceTable(w io.Writer) error {
	t := tablewriter.NewTable(w)
	t.Header("Folder", "Control", "Images", "References", "Missing", "Extra", "Unusable")
	for _, r := range d.References {
		control := r.Control
		if control == "" {
			control = MetadataFile
		}
		if err := t.Append(r.Folder, control, fmt.Sprint(r.Targets), fmt.Sprint(r.References), fmt.Sprint(r.Missing), fmt.Sprint(r.Extra), fmt.Sprint(r.Unusable)); err != nil {
			return err
		}
	}
	return t.Render()
}

// WriteMaskTable prints one row per folder with loss masks (a mask folder,
// or every folder with MaskFromAlpha): the folder, its mask folder, the
// images with a mask file, those using their alpha channel, those without
// a mask (trained unmasked), the mask files matching no image, and the
// masks whose size differs from their image's or that cannot be read
// (their images are left out).
func (d *Dataset) WriteMaskTable(w io.Writer) error {
	t := tablewriter.NewTable(w)
	t.Header("Folder", "Masks", "Found", "Alpha", "Missing", "Extra", "Wrong size", "Unreadable")
	for _, m := range d.Masks {
		masks := m.Masks
		if masks == "" {
			masks = "(alpha only)"
		}
		if err := t.Append(m.Folder, masks, fmt.Sprint(m.Found), fmt.Sprint(m.Alpha), fmt.Sprint(m.Missing), fmt.Sprint(m.Extra),
			fmt.Sprint(m.WrongSize), fmt.Sprint(m.Unreadable)); err != nil {
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
