package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flora-ml/flora/internal/fsutil"
)

// MaxCaptionBytes bounds the size of one caption file.
const MaxCaptionBytes = 1 << 20

// MaxMetadataBytes bounds the size of a metadata.jsonl file.
const MaxMetadataBytes = 64 << 20

// maxMetadataLine bounds one metadata.jsonl line: a caption of
// MaxCaptionBytes with ample room for its keys and file name.
const maxMetadataLine = 2 * MaxCaptionBytes

// captionError is a caption that cannot be used, with its problem kind.
type captionError struct {
	kind ProblemKind
	msg  string
}

func (e *captionError) Error() string { return e.msg }

// readCaptionFile reads a caption file: UTF-8 (a BOM is dropped), whitespace
// (newlines included) collapsed to single spaces.
func readCaptionFile(path string) (string, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return "", &captionError{ProblemBadCaption, fmt.Sprintf("cannot read the caption file: %v", err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCaptionBytes+1))
	if err != nil {
		return "", &captionError{ProblemBadCaption, fmt.Sprintf("cannot read the caption file: %v", err)}
	}
	if len(b) > MaxCaptionBytes {
		return "", &captionError{ProblemBadCaption, fmt.Sprintf("caption file is larger than %d KiB; is it really a caption?", MaxCaptionBytes>>10)}
	}
	return decodeCaption(b)
}

// decodeCaption validates and normalises caption bytes.
func decodeCaption(b []byte) (string, error) {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(b) {
		off := firstInvalidUTF8(b)
		return "", &captionError{ProblemBadUTF8, fmt.Sprintf("caption is not valid UTF-8 (bad byte 0x%02X at offset %d; probably Latin-1 or Windows-1252); re-save it as UTF-8", b[off], off)}
	}
	return normalizeCaption(string(b)), nil
}

// normalizeCaption collapses all whitespace runs to one space and trims.
func normalizeCaption(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// metadataEntry is one caption from a metadata.jsonl line.
type metadataEntry struct {
	image   string // image path (metadata folder joined with file_name)
	caption string
	hasText bool   // the line has a caption ("text" or "caption")
	source  string // "folder/metadata.jsonl:LINE"
	// controls are the reference images the line lists, resolved like
	// image, in order.
	controls []string
}

// readMetadata parses a Hugging Face imagefolder metadata.jsonl: one JSON
// object per line with "file_name" (relative to the file's folder) and
// "text". "image_path"/"file" and "caption" are accepted as aliases
// (musubi-tuner, other tools). Reference images are listed with "control"
// or "control_path" (a file name or a list of them) or musubi-tuner's
// numbered "control_path_0", "control_path_1", … (see metadataControls); a
// line with references needs no caption. Malformed lines are returned as
// problems.
func readMetadata(path string) ([]metadataEntry, Problems) {
	var problems Problems
	bad := func(kind ProblemKind, msg string) {
		problems = append(problems, Problem{Path: path, Severity: Error, Kind: kind, Message: msg})
	}
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		bad(ProblemBadCaption, fmt.Sprintf("cannot read: %v", err))
		return nil, problems
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxMetadataBytes {
		bad(ProblemBadCaption, fmt.Sprintf("larger than %d MiB", MaxMetadataBytes>>20))
		return nil, problems
	}
	dir := filepath.Dir(path)
	var entries []metadataEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxMetadataLine)
	line := 1
	for ; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		where := fmt.Sprintf("line %d: ", line)
		if !utf8.Valid(raw) {
			bad(ProblemBadUTF8, where+"not valid UTF-8; re-save the file as UTF-8")
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			bad(ProblemBadCaption, where+fmt.Sprintf("not a JSON object (%v); each line must look like {\"file_name\": \"a.png\", \"text\": \"a caption\"}", err))
			continue
		}
		name, nameKey := firstString(obj, "file_name", "image_path", "file")
		text, textKey := firstString(obj, "text", "caption")
		controls, err := metadataControls(obj)
		switch {
		case nameKey == "":
			bad(ProblemBadCaption, where+`missing "file_name"`)
			continue
		case err != nil:
			bad(ProblemBadCaption, where+err.Error())
			continue
		case textKey == "" && len(controls) == 0:
			bad(ProblemBadCaption, where+fmt.Sprintf(`no "text" (or "caption") string for %q`, name))
			continue
		}
		resolve := func(name string) string {
			p := filepath.FromSlash(name)
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return filepath.Clean(p)
		}
		e := metadataEntry{image: resolve(name), caption: normalizeCaption(text), hasText: textKey != "", source: fmt.Sprintf("%s:%d", path, line)}
		for _, c := range controls {
			e.controls = append(e.controls, resolve(c))
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		bad(ProblemBadCaption, fmt.Sprintf("line %d is longer than %s, the limit for one entry; is it really a metadata.jsonl?", line, fsutil.FormatSize(maxMetadataLine)))
	} else if err != nil {
		bad(ProblemBadCaption, fmt.Sprintf("reading: %v", err))
	}
	return entries, problems
}

// controlKey matches musubi-tuner's numbered reference keys.
var controlKey = regexp.MustCompile(`^control_path_([0-9]{1,4})$`)

// metadataControls returns the reference images a metadata line lists:
// "control" then "control_path" (each a string or a list of strings), then
// "control_path_N" in order of N. Names are as written (not resolved).
func metadataControls(obj map[string]any) ([]string, error) {
	var out []string
	for _, k := range []string{"control", "control_path"} {
		switch v := obj[k].(type) {
		case nil:
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf(`%q must be a file name or a list of file names, e.g. "%s": ["a_ref.png", "b_ref.png"]`, k, k)
				}
				out = append(out, s)
			}
		default:
			return nil, fmt.Errorf(`%q must be a file name or a list of file names, e.g. "%s": ["a_ref.png", "b_ref.png"]`, k, k)
		}
	}
	type numbered struct {
		n    int
		name string
	}
	var nums []numbered
	for k, v := range obj {
		m := controlKey.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%q must be a file name", k)
		}
		n, _ := strconv.Atoi(m[1])
		nums = append(nums, numbered{n, s})
	}
	sort.Slice(nums, func(i, j int) bool {
		if nums[i].n != nums[j].n {
			return nums[i].n < nums[j].n
		}
		return nums[i].name < nums[j].name
	})
	for _, x := range nums {
		out = append(out, x.name)
	}
	for _, s := range out {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("a reference (control) file name is empty")
		}
	}
	return out, nil
}

// firstString returns the first of keys whose value in obj is a string.
func firstString(obj map[string]any, keys ...string) (value, key string) {
	for _, k := range keys {
		if s, ok := obj[k].(string); ok {
			return s, k
		}
	}
	return "", ""
}
