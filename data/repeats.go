package data

import (
	"path/filepath"
	"regexp"
	"strconv"
)

// kohyaFolder matches kohya-style folder names: "<repeats>_<name>".
var kohyaFolder = regexp.MustCompile(`^([0-9]+)_(.+)$`)

// folderRepeats returns the kohya repeats of an image: the number prefix of
// the nearest folder named "N_name" between the image and the dataset root
// (the root included), or 0 when there is none or N is out of [1, MaxRepeats].
func folderRepeats(root, imagePath string) int {
	root = filepath.Clean(root)
	for dir := filepath.Dir(imagePath); ; dir = filepath.Dir(dir) {
		if m := kohyaFolder.FindStringSubmatch(filepath.Base(dir)); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 && n <= MaxRepeats {
				return n
			}
		}
		if dir == root || len(dir) <= len(root) || dir == filepath.Dir(dir) {
			return 0
		}
	}
}
