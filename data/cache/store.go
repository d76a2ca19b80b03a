package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/flora-ml/flora/model/weights"
)

// tensorName is the name of the single tensor in every cache file.
const tensorName = "value"

// Store is a cache folder. Entries live in <dir>/<kind>/<key[:2]>/<key>.safetensors.
// It is safe for concurrent use.
type Store struct {
	dir   string
	dtype weights.DType

	corrupt atomic.Int64
}

// Options configure a store.
type Options struct {
	// DType is the precision entries are stored in: F32 (exact, default) or
	// BF16 (half the disk; reads convert back to float32).
	DType weights.DType
}

// Open opens (creating it if needed) the cache folder dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.DType == weights.Invalid {
		opts.DType = weights.F32
	}
	if opts.DType != weights.F32 && opts.DType != weights.BF16 {
		return nil, fmt.Errorf("cache dtype must be F32 or BF16, got %q", opts.DType)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cache folder: %w", err)
	}
	return &Store{dir: dir, dtype: opts.DType}, nil
}

// Dir is the cache folder.
func (s *Store) Dir() string { return s.dir }

// Corrupt returns how many corrupt entries were found (and removed) so far.
func (s *Store) Corrupt() int { return int(s.corrupt.Load()) }

// Path is the file of an entry.
func (s *Store) Path(kind Kind, key Key) string {
	return filepath.Join(s.dir, string(kind), string(key[:2]), string(key)+".safetensors")
}

// Get returns the entry, or ok=false when it is missing. An entry that
// cannot be read back (truncated, wrong key, bad shape) is removed and
// reported missing, so the caller rebuilds it; Corrupt counts them. The
// error return is for invalid keys only.
func (s *Store) Get(kind Kind, key Key) (t Tensor, ok bool, err error) {
	if !key.valid() {
		return Tensor{}, false, fmt.Errorf("invalid cache key %q", key)
	}
	path := s.Path(kind, key)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return Tensor{}, false, nil
	}
	t, err = s.read(path, key)
	if err != nil {
		s.corrupt.Add(1)
		os.Remove(path)
		return Tensor{}, false, nil
	}
	return t, true, nil
}

func (s *Store) read(path string, key Key) (Tensor, error) {
	f, err := weights.Open(path)
	if err != nil {
		return Tensor{}, err
	}
	defer f.Close()
	if got := f.Metadata()["key"]; got != string(key) {
		return Tensor{}, fmt.Errorf("%s: holds key %q", path, got)
	}
	info, ok := f.Info(tensorName)
	if !ok {
		return Tensor{}, fmt.Errorf("%s: no %q tensor", path, tensorName)
	}
	raw, err := f.Bytes(tensorName)
	if err != nil {
		return Tensor{}, err
	}
	values, err := weights.DecodeFloat32(info, raw)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", path, err)
	}
	t := Tensor{Shape: append([]int(nil), info.Shape...), Data: values}
	if err := t.Validate(); err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Put writes an entry atomically (a reader sees the old entry, none, or the
// new one complete). meta is stored in the file header for inspection.
func (s *Store) Put(kind Kind, key Key, t Tensor, meta map[string]string) error {
	if !key.valid() {
		return fmt.Errorf("invalid cache key %q", key)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("cache entry %s: %w", key, err)
	}
	data, err := weights.EncodeFloat32(s.dtype, t.Data)
	if err != nil {
		return err
	}
	m := map[string]string{"format": Version, "kind": string(kind), "key": string(key)}
	for k, v := range meta {
		if _, reserved := m[k]; !reserved {
			m[k] = v
		}
	}
	td := weights.TensorData{Name: tensorName, DType: s.dtype, Shape: t.Shape, Data: data}
	if err := weights.WriteFile(s.Path(kind, key), []weights.TensorData{td}, m); err != nil {
		return fmt.Errorf("writing cache entry: %w", err)
	}
	return nil
}
