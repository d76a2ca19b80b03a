package weights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
)

// IndexSuffix ends the name of the index file of a sharded checkpoint.
const IndexSuffix = ".safetensors.index.json"

// maxIndexSize bounds the size of an index file read into memory.
const maxIndexSize = 64 << 20

// Checkpoint is a set of tensors stored in one or more safetensors files
// (shards), with unique names across the shards.
type Checkpoint struct {
	path  string
	files []*File
	owner map[string]int // tensor name → index in files
	names []string       // sorted
}

// OpenCheckpoint opens path, which is one of:
//   - a .safetensors file;
//   - a sharded checkpoint's index (*.safetensors.index.json, whose
//     weight_map maps each tensor name to the shard file holding it): every
//     listed shard must exist beside the index and hold exactly the tensors
//     the index lists for it;
//   - a folder: its *.safetensors.index.json when it has one, otherwise all
//     its *.safetensors files, which must not share tensor names.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := fsutil.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening checkpoint: %w", err)
	}
	switch {
	case st.IsDir():
		return openFolder(path)
	case strings.HasSuffix(path, ".json"):
		return openIndex(path)
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	return newCheckpoint(path, []*File{f})
}

// openFolder opens the index of folder dir, or all its safetensors files.
func openFolder(dir string) (*Checkpoint, error) {
	indexes, err := filepath.Glob(filepath.Join(globEscape(dir), "*"+IndexSuffix))
	if err != nil {
		return nil, fmt.Errorf("%s: listing index files: %w", dir, err)
	}
	switch len(indexes) {
	case 0:
	case 1:
		return openIndex(indexes[0])
	default:
		return nil, fmt.Errorf("%s: the folder holds %d index files (%s); pass the one to use", dir, len(indexes), strings.Join(baseNames(indexes), ", "))
	}
	shards, err := filepath.Glob(filepath.Join(globEscape(dir), "*.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("%s: listing safetensors files: %w", dir, err)
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("%s: the folder holds no .safetensors file and no %s index", dir, IndexSuffix)
	}
	sort.Strings(shards)
	files, err := openAll(shards)
	if err != nil {
		return nil, err
	}
	c, err := newCheckpoint(dir, files)
	if err != nil {
		closeAll(files)
		return nil, err
	}
	return c, nil
}

// openIndex opens a sharded checkpoint through its index file.
func openIndex(path string) (*Checkpoint, error) {
	weightMap, err := readIndex(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	byShard := map[string][]string{}
	for _, name := range sortedNames(weightMap) {
		shard := weightMap[name]
		byShard[shard] = append(byShard[shard], name)
	}
	shardNames := sortedNames(byShard)
	paths := make([]string, len(shardNames))
	for i, s := range shardNames {
		paths[i] = filepath.Join(dir, s)
	}
	for i, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s lists %d tensors in shard %s, which cannot be opened: %w", path, len(byShard[shardNames[i]]), shardNames[i], err)
		}
	}
	files, err := openAll(paths)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fail := func(err error) (*Checkpoint, error) {
		closeAll(files)
		return nil, err
	}
	for i, f := range files {
		listed := byShard[shardNames[i]]
		for _, name := range listed {
			if _, ok := f.Info(name); !ok {
				return fail(fmt.Errorf("%s lists tensor %q in %s, but that file does not hold it", path, name, shardNames[i]))
			}
		}
		if got := len(f.tensors); got != len(listed) {
			for _, name := range f.Names() {
				if weightMap[name] != shardNames[i] {
					where := "does not list it"
					if other, ok := weightMap[name]; ok {
						where = "lists it in " + other
					}
					return fail(fmt.Errorf("%s holds tensor %q but the index %s %s", f.path, name, path, where))
				}
			}
		}
	}
	c, err := newCheckpoint(path, files)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// readIndex reads and checks the weight_map of an index file.
func readIndex(path string) (map[string]string, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("opening checkpoint index: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", path, err)
	}
	if len(raw) > maxIndexSize {
		return nil, fmt.Errorf("%s: index file larger than %d bytes", path, maxIndexSize)
	}
	weightMap, err := parseIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid checkpoint index: %w", path, err)
	}
	return weightMap, nil
}

// parseIndex extracts weight_map from an index document, refusing duplicate
// names and shard paths that leave the index's folder.
func parseIndex(raw []byte) (map[string]string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	wm, ok := doc["weight_map"]
	if !ok {
		return nil, errors.New("no weight_map")
	}
	dec := json.NewDecoder(bytes.NewReader(wm))
	out := map[string]string{}
	err := readObject(dec, "weight_map", func(name string) error {
		if _, dup := out[name]; dup {
			return fmt.Errorf("weight_map lists tensor %q twice", name)
		}
		shard, err := nextString(dec, fmt.Sprintf("weight_map[%q]", name))
		if err != nil {
			return err
		}
		if shard == "" || filepath.Base(shard) != shard || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return fmt.Errorf("weight_map[%q] = %q: shard must be a file name in the index's folder", name, shard)
		}
		out[name] = shard
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("weight_map is empty")
	}
	return out, nil
}

// newCheckpoint indexes the tensors of files, refusing names held twice.
func newCheckpoint(path string, files []*File) (*Checkpoint, error) {
	c := &Checkpoint{path: path, files: files, owner: map[string]int{}}
	for i, f := range files {
		for _, t := range f.tensors {
			if j, dup := c.owner[t.Name]; dup {
				return nil, fmt.Errorf("%s: tensor %q is in both %s and %s", path, t.Name, files[j].path, f.path)
			}
			c.owner[t.Name] = i
		}
	}
	c.names = sortedNames(c.owner)
	return c, nil
}

func openAll(paths []string) ([]*File, error) {
	files := make([]*File, 0, len(paths))
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*File) {
	for _, f := range files {
		_ = f.Close()
	}
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// globEscape escapes the glob metacharacters of a literal path.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Path returns the path the checkpoint was opened with.
func (c *Checkpoint) Path() string { return c.path }

// Files returns the paths of the shard files, in the order they were opened.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.path
	}
	return out
}

// Names returns the tensor names of all shards, sorted.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Info returns the description of the named tensor (offsets relative to its
// shard's data region).
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f := c.fileOf(name)
	if f == nil {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// FileOf returns the path of the shard holding the named tensor.
func (c *Checkpoint) FileOf(name string) (string, bool) {
	f := c.fileOf(name)
	if f == nil {
		return "", false
	}
	return f.path, true
}

// Dims returns the dimensions of the named tensor.
func (c *Checkpoint) Dims(name string) ([]int, bool) {
	t, ok := c.Info(name)
	return t.Shape, ok
}

// Metadata returns the __metadata__ of the shards merged; for a key set
// differently in several shards the first shard's value wins.
func (c *Checkpoint) Metadata() map[string]string {
	var md map[string]string
	for _, f := range c.files {
		for k, v := range f.metadata {
			if md == nil {
				md = map[string]string{}
			}
			if _, ok := md[k]; !ok {
				md[k] = v
			}
		}
	}
	return md
}

// Bytes returns the raw data of the named tensor (see File.Bytes).
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	f := c.fileOf(name)
	if f == nil {
		return nil, c.notFound(name)
	}
	return f.Bytes(name)
}

// Tensor returns the named tensor in its stored dtype (see File.Tensor).
func (c *Checkpoint) Tensor(name string) (*tensors.Tensor, error) {
	f := c.fileOf(name)
	if f == nil {
		return nil, c.notFound(name)
	}
	return f.Tensor(name)
}

// TensorAs returns the named tensor converted to dtype (see File.TensorAs).
func (c *Checkpoint) TensorAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	f := c.fileOf(name)
	if f == nil {
		return nil, c.notFound(name)
	}
	return f.TensorAs(name, dtype)
}

// ReadAs is TensorAs (the method name of flux2.TensorSource).
func (c *Checkpoint) ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	return c.TensorAs(name, dtype)
}

// Layout detects the naming scheme of the checkpoint's tensors.
func (c *Checkpoint) Layout() Layout { return DetectLayout(c.names) }

// Close unmaps all shards.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Checkpoint) fileOf(name string) *File {
	i, ok := c.owner[name]
	if !ok {
		return nil
	}
	return c.files[i]
}

func (c *Checkpoint) notFound(name string) error {
	return fmt.Errorf("%s: no tensor named %q (%d tensors in %d file(s))", c.path, name, len(c.names), len(c.files))
}
