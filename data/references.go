package data

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/imageio"
)

// Reference (control) images pair each training image (the target: what
// the model learns to produce) with the images the transformer sees next to
// it (FLUX.2 edit/reference training: the target's tokens plus each
// reference's tokens). They are found by the conventions of musubi-tuner
// and ai-toolkit:
//
//   - a control folder parallel to the image folder (Folder.Control,
//     job key dataset.folders.N.control; musubi-tuner control_directory,
//     ai-toolkit control_path). The references of IMAGES/sub/a.png are
//     CONTROL/sub/a.* (any image extension), CONTROL/sub/a_0.*,
//     CONTROL/sub/a_1.*, … (several, ordered by number; a_0000.* works
//     too) and every image of the folder CONTROL/sub/a/ (ordered by name),
//     in that order. A control image whose name is exactly a target's stem
//     belongs to that target, so a_1.png is the reference of a_1.png when
//     that image exists, not the second reference of a.png. A target
//     without any reference is an error (missing reference) and a control
//     image matching no target a warning (extra reference).
//   - a metadata.jsonl line: "control" or "control_path", a file name or a
//     list of them, or musubi-tuner's "control_path_0", "control_path_1",
//     …, relative to the metadata file's folder like "file_name". A line's
//     references replace those of the control folder; images listed as
//     references are not targets themselves.
//
// Reference sizes: see ReferenceBucket. A sample's references are cropped
// with the target's crop offset and flipped with the target, so a before /
// after pair stays aligned; a target and its references are always in the
// same sample, and a batch holds only samples whose references have the
// same count and sizes (Plan).

// Reference is one reference (control) image of an item.
type Reference struct {
	// Path is the image file.
	Path string `json:"path"`
	// Format and ColorModel describe the file.
	Format     imageio.Format `json:"format"`
	ColorModel string         `json:"color_model"`
	// Width and Height are the displayed size (EXIF orientation applied).
	Width  int `json:"width"`
	Height int `json:"height"`
	// Bytes is the file size; Hash the hex SHA-256 of its content.
	Bytes int64  `json:"bytes"`
	Hash  string `json:"sha256"`
	// Source is where the reference was found: "control folder" or a
	// "metadata.jsonl:LINE".
	Source string `json:"source"`
}

// SourceControlFolder is Reference.Source for references found in a
// folder's control folder.
const SourceControlFolder = "control folder"

// FolderReferences summarises the references of one dataset folder (for
// `flora data check`).
type FolderReferences struct {
	// Folder is the image folder, Control its control folder ("" when the
	// references come from metadata.jsonl only).
	Folder  string `json:"folder"`
	Control string `json:"control,omitempty"`
	// Targets is the number of usable images with references, References
	// the number of reference images they use.
	Targets    int `json:"targets"`
	References int `json:"references"`
	// Missing counts images left out because a reference is missing;
	// Extra control-folder images matching no image; Unusable references
	// that cannot be read or are too small (their images are left out).
	Missing  int `json:"missing"`
	Extra    int `json:"extra"`
	Unusable int `json:"unusable"`

	hasRefs bool // some image of the folder lists references
}

// HasReferences reports whether any item has reference images.
func (d *Dataset) HasReferences() bool {
	for _, it := range d.Items {
		if len(it.References) > 0 {
			return true
		}
	}
	return false
}

// ReferenceBucket returns the size a w×h reference trains at next to a
// target of the bucket set's resolution: the bucket of that set nearest to
// the reference's own aspect ratio. The reference keeps its framing (only
// the small slack to the bucket's aspect is cropped) and gets the target's
// pixel budget, with sides multiple of 16.
//
// Why: at inference BFL (flux2 sampling.py encode_image_refs) and diffusers
// keep each reference's aspect ratio, cap its pixels (2024² for one
// reference, 1024² each for several) and crop to multiples of 16; they
// never crop a reference to the output's aspect. musubi-tuner and
// ai-toolkit resize the control image to the target's size by default,
// which crops a reference of another aspect ratio. Taking the nearest
// bucket of the target's resolution keeps the aspect like inference, and
// equals the target's bucket when both have the same shape (the usual
// before/after pair, where it is what musubi-tuner does). The budget is
// the training resolution's, not 2024², so a reference costs about as many
// tokens as its target (BFL's several-reference rule scaled to the training
// resolution). The result depends only on the set and the reference's
// size (deterministic).
func ReferenceBucket(set bucket.Set, w, h int) bucket.Bucket {
	return set.Nearest(w, h)
}

// referenceBuckets returns the ReferenceBucket of each reference, or nil
// when there are none.
func referenceBuckets(set bucket.Set, refs []Reference) []bucket.Bucket {
	if len(refs) == 0 {
		return nil
	}
	out := make([]bucket.Bucket, len(refs))
	for i, r := range refs {
		out[i] = ReferenceBucket(set, r.Width, r.Height)
	}
	return out
}

// stemMatcher pairs the files of a folder parallel to a dataset folder
// (a control folder, a mask folder) with the folder's images: a file
// belongs to the image at the same relative path with the same name
// without extension (PARALLEL/sub/a.* ↔ ROOT/sub/a.png).
type stemMatcher struct {
	// byStem maps an image's relative stem ("sub/a") to its candidate.
	byStem map[string]int
}

// newStemMatcher indexes the candidates of the dataset folder root.
func newStemMatcher(root string, cands []candidate) stemMatcher {
	sm := stemMatcher{byStem: map[string]int{}}
	for i, c := range cands {
		sm.byStem[relStem(root, c.path)] = i
	}
	return sm
}

// match returns the candidate whose relative stem is that of the file p
// of the parallel folder base.
func (sm stemMatcher) match(base, p string) (int, bool) {
	i, ok := sm.byStem[relStem(base, p)]
	return i, ok
}

// relStem is p relative to base, without its extension.
func relStem(base, p string) string {
	r, err := filepath.Rel(base, stemKey(p))
	if err != nil {
		return p
	}
	return r
}

// numberedStem matches "STEM_N" control names.
var numberedStem = regexp.MustCompile(`^(.*)_([0-9]{1,4})$`)

// matchControlFolder gives each candidate of one dataset folder (root)
// without metadata references its references from the control folder's
// images (see the conventions above). Candidates with none are marked
// skip and reported missing; control images that match no candidate, or
// belong to one whose references come from metadata.jsonl, are reported
// extra (warnings).
func matchControlFolder(root, control string, cands []candidate, images []string) (missing, extra Problems) {
	sm := newStemMatcher(root, cands)
	rel, byStem := relStem, sm.byStem
	type numbered struct {
		n    int
		path string
	}
	exact := map[int][]string{}
	nums := map[int][]numbered{}
	subs := map[int][]string{}
	owner := map[string]int{} // control image → candidate
	var unmatched []string
	for _, p := range images {
		s := rel(control, p)
		if i, ok := byStem[s]; ok {
			exact[i] = append(exact[i], p)
			owner[p] = i
			continue
		}
		if i, ok := byStem[filepath.Dir(s)]; ok && filepath.Dir(s) != "." {
			subs[i] = append(subs[i], p)
			owner[p] = i
			continue
		}
		if m := numberedStem.FindStringSubmatch(s); m != nil {
			if i, ok := byStem[m[1]]; ok {
				n, _ := strconv.Atoi(m[2])
				nums[i] = append(nums[i], numbered{n, p})
				owner[p] = i
				continue
			}
		}
		unmatched = append(unmatched, p)
	}
	warn := func(path, format string, args ...any) {
		extra = append(extra, Problem{Path: path, Severity: Warning, Kind: ProblemExtraReference, Message: fmt.Sprintf(format, args...)})
	}
	for _, p := range unmatched {
		warn(p, "matches no image in %s (a reference of IMAGE.png is named IMAGE.*, IMAGE_0.*, IMAGE_1.* or lies in IMAGE/); rename or remove it", root)
	}
	for i := range cands {
		c := &cands[i]
		if c.skip {
			continue
		}
		var refs []string
		if e := exact[i]; len(e) > 0 {
			refs = append(refs, e[0])
			for _, p := range e[1:] {
				warn(p, "a second reference named %s.* for %s; using %s (remove one)", filepath.Base(stemKey(p)), filepath.Base(c.path), filepath.Base(e[0]))
			}
		}
		n := nums[i]
		sort.SliceStable(n, func(a, b int) bool { return n[a].n < n[b].n })
		for _, x := range n {
			refs = append(refs, x.path)
		}
		refs = append(refs, subs[i]...) // images are sorted by path
		switch {
		case len(c.refs) > 0:
			for _, p := range refs {
				warn(p, "not used: %s lists the references of %s", c.refSource, filepath.Base(c.path))
			}
		case len(refs) > 0:
			c.refs, c.refSource = refs, SourceControlFolder
		default:
			s := filepath.Join(control, rel(root, c.path))
			missing = append(missing, Problem{Path: c.path, Severity: Error, Kind: ProblemMissingReference,
				Message: fmt.Sprintf("no reference image in the control folder (expected %s.png — any image extension —, %s_0.png, %s_1.png… or the folder %s%c); add it or remove the image", s, s, filepath.Base(s), s, filepath.Separator)})
			c.skip = true
		}
	}
	return missing, extra
}

// checkMetadataReferences reports (and skips) candidates whose metadata
// references do not exist.
func checkMetadataReferences(cands []candidate) Problems {
	var problems Problems
	for i := range cands {
		c := &cands[i]
		if c.skip || c.refSource == SourceControlFolder {
			continue
		}
		for _, r := range c.refs {
			if st, err := os.Stat(r); err != nil || st.IsDir() {
				problems = append(problems, Problem{Path: c.path, Severity: Error, Kind: ProblemMissingReference,
					Message: fmt.Sprintf("reference %s listed at %s does not exist; fix the name or add the image", r, c.refSource)})
				c.skip = true
				break
			}
		}
	}
	return problems
}

// referenceCounts warns about the candidates of one folder whose number of
// references differs from the folder's most common one (batches group
// samples by reference count and sizes, so odd ones train in small
// batches). Folders without references are left alone.
func referenceCounts(cands []candidate) Problems {
	freq := map[int]int{}
	usable := 0
	for _, c := range cands {
		if !c.skip {
			freq[len(c.refs)]++
			usable++
		}
	}
	if len(freq) < 2 {
		return nil
	}
	mode := -1
	for n, f := range freq {
		if mode < 0 || f > freq[mode] || f == freq[mode] && n > mode {
			mode = n
		}
	}
	var out Problems
	for _, c := range cands {
		if !c.skip && len(c.refs) != mode {
			out = append(out, Problem{Path: c.path, Severity: Warning, Kind: ProblemReferenceCount,
				Message: fmt.Sprintf("%d reference(s), while %d of the folder's %d images have %d; batches only group images with the same reference count and sizes (check for a missing or stray reference)", len(c.refs), freq[mode], usable, mode)})
		}
	}
	return out
}

// referenceList formats the references of an item for tables: their file
// names, comma-separated.
func referenceList(it *Item) string {
	names := make([]string, len(it.References))
	for i, r := range it.References {
		names[i] = filepath.Base(r.Path)
	}
	return strings.Join(names, ", ")
}
