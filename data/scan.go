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
	ds := &Dataset{Config: cfg}
	for _, r := range cfg.Resolutions {
		set, err := bucket.Generate(r, cfg.bucketOptions())
		if err != nil {
			return nil, nil, fmt.Errorf("buckets for resolution %d: %w", r, err)
		}
		ds.Sets = append(ds.Sets, set)
	}
	var problems Problems
	var cands []candidate
	var refStats []FolderReferences
	maskStats := make([]FolderMasks, len(cfg.Folders))
	seenImage := map[string]bool{}
	for fi, folder := range cfg.Folders {
		root := filepath.Clean(folder.Path)
		st, err := fsutil.Stat(root)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset folder: %w", err)
		}
		if !st.IsDir() {
			return nil, nil, fmt.Errorf("dataset folder %s is a file, not a folder; give the folder that holds the images", folder.Path)
		}
		ff, err := walkFolder(root, cfg.CaptionExtensions, folder.Control, folder.Masks)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset folder %s: %w", folder.Path, err)
		}
		problems = append(problems, ff.problems...)
		if len(ff.images) == 0 {
			problems = append(problems, Problem{Path: root, Severity: Warning, Kind: ProblemNoImages,
				Message: fmt.Sprintf("no image files in the folder or its subfolders (looked for %s)", strings.Join(imageExtList(), " "))})
		}
		fc, fp := resolveCaptions(&cfg, fi, root, ff)
		stat := FolderReferences{Folder: root}
		if folder.Control != "" {
			ctl := filepath.Clean(folder.Control)
			stat.Control = ctl
			if st, err := fsutil.Stat(ctl); err != nil {
				return nil, nil, fmt.Errorf("dataset folder %s: control folder: %w", folder.Path, err)
			} else if !st.IsDir() {
				return nil, nil, fmt.Errorf("dataset folder %s: control folder %s is a file, not a folder; give the folder that holds the reference images", folder.Path, folder.Control)
			}
			cf, err := walkFolder(ctl, nil, root)
			if err != nil {
				return nil, nil, fmt.Errorf("dataset folder %s: control folder %s: %w", folder.Path, folder.Control, err)
			}
			missing, extra := matchControlFolder(root, ctl, fc, cf.images)
			problems = append(problems, cf.problems...)
			problems = append(problems, missing...)
			problems = append(problems, extra...)
			stat.Missing, stat.Extra = len(missing), len(extra)
		}
		maskStats[fi].Folder = root
		if folder.Masks != "" {
			mdir := filepath.Clean(folder.Masks)
			maskStats[fi].Masks = mdir
			if st, err := fsutil.Stat(mdir); err != nil {
				return nil, nil, fmt.Errorf("dataset folder %s: mask folder: %w", folder.Path, err)
			} else if !st.IsDir() {
				return nil, nil, fmt.Errorf("dataset folder %s: mask folder %s is a file, not a folder; give the folder that holds the masks", folder.Path, folder.Masks)
			}
			mf, err := walkFolder(mdir, nil, root)
			if err != nil {
				return nil, nil, fmt.Errorf("dataset folder %s: mask folder %s: %w", folder.Path, folder.Masks, err)
			}
			extra := matchMaskFolder(root, mdir, fc, mf.images)
			maskStats[fi].Extra = len(extra)
			problems = append(problems, mf.problems...)
			problems = append(problems, extra...)
		}
		mp := checkMetadataReferences(fc)
		stat.Missing += len(mp)
		problems = append(problems, mp...)
		problems = append(problems, referenceCounts(fc)...)
		for _, c := range fc {
			if len(c.refs) > 0 {
				stat.hasRefs = true
			}
		}
		refStats = append(refStats, stat)
		for _, c := range fc {
			if seenImage[c.path] {
				continue // listed by an earlier, enclosing folder
			}
			seenImage[c.path] = true
			cands = append(cands, c)
		}
		problems = append(problems, fp...)
	}
	results := decodeAll(cands, cfg.DecodeOptions(), cfg.Workers)
	// References, each file decoded once.
	var refCands []candidate
	refIndex := map[string]int{}
	for _, c := range cands {
		for _, r := range c.refs {
			if _, seen := refIndex[r]; !seen && !c.skip {
				refIndex[r] = len(refCands)
				refCands = append(refCands, candidate{path: r})
			}
		}
	}
	refResults := decodeAll(refCands, cfg.DecodeOptions(), cfg.Workers)
	// Mask files, each decoded once.
	var maskCands []candidate
	maskIndex := map[string]int{}
	for _, c := range cands {
		if _, seen := maskIndex[c.mask]; c.mask != "" && !seen && !c.skip {
			maskIndex[c.mask] = len(maskCands)
			maskCands = append(maskCands, candidate{path: c.mask})
		}
	}
	maskResults := decodeAll(maskCands, cfg.DecodeOptions(), cfg.Workers)
	firstByHash := map[string]string{}
	for i, c := range cands {
		if c.skip {
			continue
		}
		r := results[i]
		if r.err != nil {
			problems = append(problems, Problem{Path: c.path, Severity: Error, Kind: ProblemUnreadable, Message: r.err.Error()})
			continue
		}
		if short := min(r.info.Width, r.info.Height); short < cfg.MinSide {
			problems = append(problems, Problem{Path: c.path, Severity: Warning, Kind: ProblemTooSmall,
				Message: fmt.Sprintf("%dx%d: shorter side %d px is below the minimum of %d; skipped (use a larger image or lower min side)", r.info.Width, r.info.Height, short, cfg.MinSide)})
			continue
		}
		refs, rp := c.references(refResults, refIndex, cfg.MinSide)
		problems = append(problems, rp...)
		if len(refs) < len(c.refs) {
			refStats[c.folder].Unusable += len(rp)
			continue
		}
		mask, mps, ok := c.checkMask(r.info, maskResults, maskIndex, &cfg, &maskStats[c.folder])
		problems = append(problems, mps...)
		if !ok {
			continue
		}
		if first, dup := firstByHash[r.hash]; dup {
			problems = append(problems, Problem{Path: c.path, Severity: Warning, Kind: ProblemDuplicate,
				Message: fmt.Sprintf("same content as %s; it will count twice (remove one copy unless that is intended)", first)})
		} else {
			firstByHash[r.hash] = c.path
		}
		problems = append(problems, c.pending...)
		it := Item{
			Path: c.path, Folder: c.folder, Format: r.info.Format, ColorModel: r.info.ColorModel,
			Width: r.info.Width, Height: r.info.Height, Bytes: r.bytes, Hash: r.hash,
			Caption: c.caption, CaptionSource: c.captionSource,
			Repeats: cfg.Folders[c.folder].Repeats, References: refs, Mask: mask,
		}
		if it.Repeats == 0 {
			it.Repeats = max(1, folderRepeats(c.root, c.path))
		}
		if p := ds.assign(&it); p != nil {
			problems = append(problems, *p)
		}
		ds.Items = append(ds.Items, it)
	}
	for _, it := range ds.Items {
		if len(it.References) > 0 {
			refStats[it.Folder].Targets++
			refStats[it.Folder].References += len(it.References)
		}
	}
	for _, st := range refStats {
		if st.hasRefs || st.Control != "" {
			ds.References = append(ds.References, st)
		}
	}
	for fi, st := range maskStats {
		if cfg.Folders[fi].Masks != "" || cfg.MaskFromAlpha {
			ds.Masks = append(ds.Masks, st)
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Path < problems[j].Path })
	return ds, problems, nil
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
