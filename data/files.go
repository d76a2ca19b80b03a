package data

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// imageExts are the file extensions treated as images (lower case).
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true,
	".png": true, ".webp": true, ".bmp": true, ".tif": true, ".tiff": true, ".gif": true,
}

func isImageExt(ext string) bool { return imageExts[strings.ToLower(ext)] }

// imageExtList returns the image extensions, sorted.
func imageExtList() []string {
	out := make([]string, 0, len(imageExts))
	for e := range imageExts {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// IsImageName reports whether a file name ends in an image extension the
// dataset scan reads (.png, .jpg, .webp, ...; any case).
func IsImageName(name string) bool { return isImageExt(filepath.Ext(name)) }

// MetadataFile is the Hugging Face imagefolder caption file name.
const MetadataFile = "metadata.jsonl"

// folderFiles is what a walk of one dataset folder found, each list sorted.
type folderFiles struct {
	images   []string // paths of image files
	captions []string // paths of caption files (by CaptionExtensions)
	metadata []string // paths of metadata.jsonl files
	problems Problems // entries that could not be listed
}

// walkFolder lists a folder recursively, skipping hidden files and folders
// (names starting with "."), macOS resource folders and the folders in skip
// (a control folder inside the image folder). A subfolder that cannot be
// listed is reported as a problem and skipped; only a failure on the root
// is an error.
func walkFolder(root string, captionExts []string, skip ...string) (folderFiles, error) {
	var ff folderFiles
	isCaption := map[string]bool{}
	for _, e := range captionExts {
		isCaption[strings.ToLower(e)] = true
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			ff.problems = append(ff.problems, Problem{Path: path, Severity: Error, Kind: ProblemUnreadable,
				Message: fmt.Sprintf("cannot list it (%v); its files are skipped (check permissions)", err)})
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "__MACOSX") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			for _, sk := range skip {
				if path != root && filepath.Clean(path) == filepath.Clean(sk) {
					return filepath.SkipDir
				}
			}
			return nil
		}
		ext := strings.ToLower(filepath.Ext(name))
		switch {
		case imageExts[ext]:
			ff.images = append(ff.images, path)
		case isCaption[ext]:
			ff.captions = append(ff.captions, path)
		case name == MetadataFile:
			ff.metadata = append(ff.metadata, path)
		}
		return nil
	})
	sort.Strings(ff.images)
	sort.Strings(ff.captions)
	sort.Strings(ff.metadata)
	return ff, err
}

// stemKey identifies "same folder, same file name without extension".
func stemKey(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path))
}
