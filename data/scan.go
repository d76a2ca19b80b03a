package data

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/flora-ml/flora/data/bucket"
	"github.com/flora-ml/flora/data/imageio"
	"github.com/flora-ml/flora/internal/fsutil"
)

// candidate is an image file found by the walk, with its caption resolved.
type candidate struct {
	path          string
	folder        int
	root          string
	caption       string
	captionSource string
	skip          bool // caption unusable: reported, not decoded
	// pending are caption warnings about the image, reported only if the
	// image turns out usable.
	pending Problems
	// refs are its reference images (from metadata.jsonl or the control
	// folder), refSource where they were found.
	refs      []string
	refSource string
	// mask is its mask file from the folder's mask folder ("" for none).
	mask string
}

// decoded is the result of reading and decoding one candidate.
type decoded struct {
	info  imageio.Info
	bytes int64
	hash  string
	err   error
}

// Scan reads every configured folder: it lists images and captions, decodes
// every image fully (so broken files are found now, not mid-training),
// applies the minimum size, assigns buckets and finds duplicates.
//
// Problems lists every finding about individual files (see ProblemKind);
// files with Error problems are left out of the dataset, and
// Problems.Err tells whether there were any. The error return is for
// failures that make the whole scan meaningless: an invalid config or a
// folder that does not exist.
func Scan(cfg Config) (*Dataset, Problems, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("invalid dataset config:\n%w", err)
	}
	sc := &scan{cfg: cfg, ds: &Dataset{Config: cfg}, maskStats: make([]FolderMasks, len(cfg.Folders)),
		seenImage: map[string]bool{}, firstByHash: map[string]string{}}
	for _, r := range cfg.Resolutions {
		set, err := bucket.Generate(r, cfg.bucketOptions())
		if err != nil {
			return nil, nil, fmt.Errorf("buckets for resolution %d: %w", r, err)
		}
		sc.ds.Sets = append(sc.ds.Sets, set)
	}
	for fi := range cfg.Folders {
		if err := sc.folder(fi); err != nil {
			return nil, nil, err
		}
	}
	results := decodeAll(sc.cands, cfg.DecodeOptions(), cfg.Workers)
	sc.refResults, sc.refIndex = sc.decodeOnce(func(c candidate) []string { return c.refs })
	sc.maskResults, sc.maskIndex = sc.decodeOnce(func(c candidate) []string {
		if c.mask == "" {
			return nil
		}
		return []string{c.mask}
	})
	for i, c := range sc.cands {
		if !c.skip {
			sc.item(c, results[i])
		}
	}
	sc.finishStats()
	sort.SliceStable(sc.problems, func(i, j int) bool { return sc.problems[i].Path < sc.problems[j].Path })
	return sc.ds, sc.problems, nil
}

// scan is the state of one Scan: the candidates found, the side files
// (references, masks) decoded, and what was found about them.
type scan struct {
	cfg      Config
	ds       *Dataset
	problems Problems
	cands    []candidate
	// seenImage marks images already listed (by an enclosing folder);
	// firstByHash maps content hashes to the first image with it.
	seenImage   map[string]bool
	firstByHash map[string]string
	refStats    []FolderReferences
	maskStats   []FolderMasks
	// refResults/maskResults are the decoded side files, by
	// refIndex/maskIndex[path].
	refResults, maskResults []decoded
	refIndex, maskIndex     map[string]int
}

// folder lists folder fi's images with their captions, references and
// masks; an unusable folder (or side folder) is an error.
func (sc *scan) folder(fi int) error {
	folder := sc.cfg.Folders[fi]
	root := filepath.Clean(folder.Path)
	st, err := fsutil.Stat(root)
	if err != nil {
		return fmt.Errorf("dataset folder: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("dataset folder %s is a file, not a folder; give the folder that holds the images", folder.Path)
	}
	ff, err := walkFolder(root, sc.cfg.CaptionExtensions, folder.Control, folder.Masks)
	if err != nil {
		return fmt.Errorf("dataset folder %s: %w", folder.Path, err)
	}
	sc.problems = append(sc.problems, ff.problems...)
	if len(ff.images) == 0 {
		sc.problems = append(sc.problems, Problem{Path: root, Severity: Warning, Kind: ProblemNoImages,
			Message: fmt.Sprintf("no image files in the folder or its subfolders (looked for %s)", strings.Join(imageExtList(), " "))})
	}
	fc, fp := resolveCaptions(&sc.cfg, fi, root, ff)
	stat := FolderReferences{Folder: root}
	if folder.Control != "" {
		ctl := filepath.Clean(folder.Control)
		stat.Control = ctl
		cf, err := walkSideFolder(folder.Path, "control", ctl, root, "the reference images")
		if err != nil {
			return err
		}
		missing, extra := matchControlFolder(root, ctl, fc, cf.images)
		sc.problems = append(append(append(sc.problems, cf.problems...), missing...), extra...)
		stat.Missing, stat.Extra = len(missing), len(extra)
	}
	sc.maskStats[fi].Folder = root
	if folder.Masks != "" {
		mdir := filepath.Clean(folder.Masks)
		sc.maskStats[fi].Masks = mdir
		mf, err := walkSideFolder(folder.Path, "mask", mdir, root, "the masks")
		if err != nil {
			return err
		}
		extra := matchMaskFolder(root, mdir, fc, mf.images)
		sc.maskStats[fi].Extra = len(extra)
		sc.problems = append(append(sc.problems, mf.problems...), extra...)
	}
	mp := checkMetadataReferences(fc)
	stat.Missing += len(mp)
	sc.problems = append(append(sc.problems, mp...), referenceCounts(fc)...)
	for _, c := range fc {
		stat.hasRefs = stat.hasRefs || len(c.refs) > 0
	}
	sc.refStats = append(sc.refStats, stat)
	for _, c := range fc {
		if sc.seenImage[c.path] {
			continue // listed by an earlier, enclosing folder
		}
		sc.seenImage[c.path] = true
		sc.cands = append(sc.cands, c)
	}
	sc.problems = append(sc.problems, fp...)
	return nil
}

// walkSideFolder checks and lists a folder of side files (kind "control"
// or "mask") of the dataset folder named folder (root, its cleaned path,
// is not walked into); holds says what it should hold, for the message.
func walkSideFolder(folder, kind, dir, root, holds string) (folderFiles, error) {
	if st, err := fsutil.Stat(dir); err != nil {
		return folderFiles{}, fmt.Errorf("dataset folder %s: %s folder: %w", folder, kind, err)
	} else if !st.IsDir() {
		return folderFiles{}, fmt.Errorf("dataset folder %s: %s folder %s is a file, not a folder; give the folder that holds %s", folder, kind, dir, holds)
	}
	ff, err := walkFolder(dir, nil, root)
	if err != nil {
		return folderFiles{}, fmt.Errorf("dataset folder %s: %s folder %s: %w", folder, kind, dir, err)
	}
	return ff, nil
}

// decodeOnce decodes the side files files(c) of every usable candidate,
// each file once: the results, and each file's index in them.
func (sc *scan) decodeOnce(files func(candidate) []string) ([]decoded, map[string]int) {
	var cands []candidate
	index := map[string]int{}
	for _, c := range sc.cands {
		if c.skip {
			continue
		}
		for _, f := range files(c) {
			if _, seen := index[f]; !seen {
				index[f] = len(cands)
				cands = append(cands, candidate{path: f})
			}
		}
	}
	return decodeAll(cands, sc.cfg.DecodeOptions(), sc.cfg.Workers), index
}

// item checks a decoded candidate — readable, large enough, its references
// and mask usable — and adds it to the dataset with its buckets, or
// reports why not.
func (sc *scan) item(c candidate, r decoded) {
	cfg := &sc.cfg
	if r.err != nil {
		sc.problems = append(sc.problems, Problem{Path: c.path, Severity: Error, Kind: ProblemUnreadable, Message: r.err.Error()})
		return
	}
	if short := min(r.info.Width, r.info.Height); short < cfg.MinSide {
		sc.problems = append(sc.problems, Problem{Path: c.path, Severity: Warning, Kind: ProblemTooSmall,
			Message: fmt.Sprintf("%dx%d: shorter side %d px is below the minimum of %d; skipped (use a larger image or lower min side)", r.info.Width, r.info.Height, short, cfg.MinSide)})
		return
	}
	refs, rp := c.references(sc.refResults, sc.refIndex, cfg.MinSide)
	sc.problems = append(sc.problems, rp...)
	if len(refs) < len(c.refs) {
		sc.refStats[c.folder].Unusable += len(rp)
		return
	}
	mask, mps, ok := c.checkMask(r.info, sc.maskResults, sc.maskIndex, cfg, &sc.maskStats[c.folder])
	sc.problems = append(sc.problems, mps...)
	if !ok {
		return
	}
	if first, dup := sc.firstByHash[r.hash]; dup {
		sc.problems = append(sc.problems, Problem{Path: c.path, Severity: Warning, Kind: ProblemDuplicate,
			Message: fmt.Sprintf("same content as %s; it will count twice (remove one copy unless that is intended)", first)})
	} else {
		sc.firstByHash[r.hash] = c.path
	}
	sc.problems = append(sc.problems, c.pending...)
	it := Item{
		Path: c.path, Folder: c.folder, Format: r.info.Format, ColorModel: r.info.ColorModel,
		Width: r.info.Width, Height: r.info.Height, Bytes: r.bytes, Hash: r.hash,
		Caption: c.caption, CaptionSource: c.captionSource,
		Repeats: cfg.Folders[c.folder].Repeats, References: refs, Mask: mask,
	}
	if it.Repeats == 0 {
		it.Repeats = max(1, folderRepeats(c.root, c.path))
	}
	if p := sc.ds.assign(&it); p != nil {
		sc.problems = append(sc.problems, *p)
	}
	sc.ds.Items = append(sc.ds.Items, it)
}

// finishStats counts each folder's references and keeps the folders'
// reference and mask summaries that have anything to say.
func (sc *scan) finishStats() {
	for _, it := range sc.ds.Items {
		if len(it.References) > 0 {
			sc.refStats[it.Folder].Targets++
			sc.refStats[it.Folder].References += len(it.References)
		}
	}
	for _, st := range sc.refStats {
		if st.hasRefs || st.Control != "" {
			sc.ds.References = append(sc.ds.References, st)
		}
	}
	for fi, st := range sc.maskStats {
		if sc.cfg.Folders[fi].Masks != "" || sc.cfg.MaskFromAlpha {
			sc.ds.Masks = append(sc.ds.Masks, st)
		}
	}
}

// references checks the decoded reference images of a candidate: each
// must be readable and have a shorter side of at least minSide. It returns
// the usable ones and a problem (on the reference's path) for each other;
// the candidate is usable only when all are.
func (c *candidate) references(results []decoded, index map[string]int, minSide int) ([]Reference, Problems) {
	var refs []Reference
	var problems Problems
	for _, p := range c.refs {
		r := results[index[p]]
		switch {
		case r.err != nil:
			problems = append(problems, Problem{Path: p, Severity: Error, Kind: ProblemUnreadable,
				Message: fmt.Sprintf("%v; it is a reference of %s, which is left out", r.err, c.path)})
		case min(r.info.Width, r.info.Height) < minSide:
			problems = append(problems, Problem{Path: p, Severity: Warning, Kind: ProblemTooSmall,
				Message: fmt.Sprintf("%dx%d: shorter side %d px is below the minimum of %d; %s, which it is a reference of, is skipped (use a larger reference or lower min side)", r.info.Width, r.info.Height, min(r.info.Width, r.info.Height), minSide, c.path)})
		default:
			refs = append(refs, Reference{Path: p, Format: r.info.Format, ColorModel: r.info.ColorModel,
				Width: r.info.Width, Height: r.info.Height, Bytes: r.bytes, Hash: r.hash, Source: c.refSource})
		}
	}
	return refs, problems
}

// assign fills it.Assignments: the nearest bucket of every resolution the
// image reaches without upscaling beyond MaxUpscale, or the smallest
// resolution (with a warning) when it reaches none.
func (d *Dataset) assign(it *Item) *Problem {
	smallest := 0
	for i, set := range d.Sets {
		b := set.Nearest(it.Width, it.Height)
		s := bucket.Scale(it.Width, it.Height, b)
		if s <= d.Config.MaxUpscale {
			it.Assignments = append(it.Assignments, Assignment{Resolution: set.Resolution, Bucket: b, Scale: s, References: referenceBuckets(set, it.References)})
		}
		if set.Resolution < d.Sets[smallest].Resolution {
			smallest = i
		}
	}
	if len(it.Assignments) > 0 {
		return nil
	}
	set := d.Sets[smallest]
	b := set.Nearest(it.Width, it.Height)
	s := bucket.Scale(it.Width, it.Height, b)
	it.Assignments = []Assignment{{Resolution: set.Resolution, Bucket: b, Scale: s, References: referenceBuckets(set, it.References)}}
	return &Problem{Path: it.Path, Severity: Warning, Kind: ProblemUpscaled,
		Message: fmt.Sprintf("%dx%d is smaller than every resolution's buckets; trains at %v upscaled ×%.2f (blurry; use a larger image or add a smaller resolution)", it.Width, it.Height, b, s)}
}

// resolveCaptions finds the caption of every image of one folder and
// reports caption problems: unreadable or non-UTF-8 files, orphans, empty
// captions, conflicting sources, {trigger} without a trigger word.
func resolveCaptions(cfg *Config, fi int, root string, ff folderFiles) ([]candidate, Problems) {
	var problems Problems
	warn := func(path string, kind ProblemKind, format string, args ...any) {
		problems = append(problems, Problem{Path: path, Severity: Warning, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	// Caption files by image stem, in CaptionExtensions order.
	rank := map[string]int{}
	for i, e := range cfg.CaptionExtensions {
		rank[strings.ToLower(e)] = i
	}
	byStem := map[string][]string{}
	for _, p := range ff.captions {
		byStem[stemKey(p)] = append(byStem[stemKey(p)], p)
	}
	for _, list := range byStem {
		sort.SliceStable(list, func(i, j int) bool {
			return rank[strings.ToLower(filepath.Ext(list[i]))] < rank[strings.ToLower(filepath.Ext(list[j]))]
		})
	}
	meta := map[string]metadataEntry{}
	var metaOrder []metadataEntry
	for _, mp := range ff.metadata {
		entries, mprobs := readMetadata(mp)
		problems = append(problems, mprobs...)
		for _, e := range entries {
			if prev, dup := meta[e.image]; dup {
				warn(e.source, ProblemCaption, "second entry for %s (first at %s); using the first", e.image, prev.source)
				continue
			}
			meta[e.image] = e
			metaOrder = append(metaOrder, e)
		}
	}
	folder := cfg.Folders[fi]
	imageStems := map[string]bool{}
	imagePaths := map[string]bool{}
	// Images a metadata line lists as references are not targets.
	isRef := map[string]bool{}
	for _, e := range metaOrder {
		for _, r := range e.controls {
			isRef[r] = true
		}
	}
	var out []candidate
	for _, img := range ff.images {
		imageStems[stemKey(img)] = true
		imagePaths[filepath.Clean(img)] = true
		if isRef[filepath.Clean(img)] {
			continue
		}
		c := candidate{path: img, folder: fi, root: root}
		var sources []string
		if files := byStem[stemKey(img)]; len(files) > 0 {
			sources = append(sources, files...)
			text, err := readCaptionFile(files[0])
			var ce *captionError
			switch {
			case errors.As(err, &ce):
				problems = append(problems, Problem{Path: files[0], Severity: Error, Kind: ce.kind, Message: ce.msg + "; its image " + filepath.Base(img) + " is skipped"})
				c.skip = true
			case err != nil:
				problems = append(problems, Problem{Path: files[0], Severity: Error, Kind: ProblemBadCaption, Message: err.Error()})
				c.skip = true
			case text == "":
				warn(files[0], ProblemCaption, "caption file is empty; falling back to the default caption")
			default:
				c.caption, c.captionSource = text, files[0]
			}
		}
		if e, ok := meta[filepath.Clean(img)]; ok {
			if e.hasText {
				sources = append(sources, e.source)
			}
			if c.captionSource == "" && !c.skip && e.caption != "" {
				c.caption, c.captionSource = e.caption, e.source
			}
			if len(e.controls) > 0 {
				c.refs, c.refSource = e.controls, e.source
			}
		}
		pend := func(kind ProblemKind, format string, args ...any) {
			c.pending = append(c.pending, Problem{Path: img, Severity: Warning, Kind: kind, Message: fmt.Sprintf(format, args...)})
		}
		if len(sources) > 1 && !c.skip {
			pend(ProblemCaption, "captions in %s; using %s", strings.Join(sources, " and "), sources[0])
		}
		if c.captionSource == "" && !c.skip {
			switch {
			case folder.DefaultCaption != "":
				c.caption, c.captionSource = normalizeCaption(folder.DefaultCaption), "folder default"
			case cfg.DefaultCaption != "":
				c.caption, c.captionSource = normalizeCaption(cfg.DefaultCaption), "default"
			default:
				hint := "add " + stemKey(filepath.Base(img)) + cfg.CaptionExtensions[0]
				if cfg.Trigger != "" {
					hint += "; it trains with only the trigger word"
				} else {
					hint += " or set a default caption; it trains with an empty caption"
				}
				pend(ProblemMissingCaption, "no caption (%s)", hint)
			}
		}
		if cfg.Trigger == "" && hasPlaceholder(c.caption) {
			pend(ProblemCaption, "caption uses {trigger} but no trigger word is configured; it is replaced by nothing")
		}
		out = append(out, c)
	}
	for _, p := range ff.captions {
		if !imageStems[stemKey(p)] {
			warn(p, ProblemOrphanCaption, "no image named %s.* next to it (renamed or deleted image?)", filepath.Base(stemKey(p)))
		}
	}
	for _, e := range metaOrder {
		if !imagePaths[e.image] {
			warn(e.source, ProblemOrphanCaption, "entry for %s, which is not an image in the folder", e.image)
		}
	}
	return out, problems
}

// decodeAll reads, hashes and decodes (imageio.Check) the candidates on parallel workers;
// results are in candidate order. Skipped candidates are not read.
func decodeAll(cands []candidate, opts imageio.Options, workers int) []decoded {
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 8) // each holds one decoded image
	}
	results := make([]decoded, len(cands))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, max(1, len(cands))); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = decodeOne(cands[i].path, opts)
			}
		}()
	}
	for i, c := range cands {
		if !c.skip {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	return results
}

func decodeOne(path string, opts imageio.Options) decoded {
	data, err := imageio.ReadFile(path, 0)
	if err != nil {
		return decoded{err: err}
	}
	sum := sha256.Sum256(data)
	info, err := imageio.Check(data, opts)
	return decoded{info: info, bytes: int64(len(data)), hash: hex.EncodeToString(sum[:]), err: err}
}
