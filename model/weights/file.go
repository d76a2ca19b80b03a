package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
)

// File is an open safetensors file, memory-mapped read-only. Its accessors
// may be called from several goroutines; Close must not run concurrently
// with them.
type File struct {
	path     string
	mapping  []byte // the whole file
	data     []byte // the data region, after the header
	tensors  []TensorInfo
	index    map[string]int
	metadata map[string]string
	// inMemory marks a File over a byte slice (FromBytes): nothing to
	// advise the kernel about or unmap.
	inMemory bool
}

// Open memory-maps the safetensors file at path and validates its header.
// Errors name the file and the problem.
func Open(path string) (*File, error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("weights: safetensors data is little-endian; big-endian hosts are not supported")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a safetensors file; give the .safetensors file in it", path)
	}
	// A named pipe or device is refused without blocking or reading it.
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("opening safetensors file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening safetensors file: %w", err)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for a safetensors file (truncated or not safetensors)", path, size)
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%s: file of %d bytes is too large to map on this platform", path, size)
	}
	mapping, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: memory-mapping the file: %w", path, err)
	}
	var h header
	var dataStart int64
	if ferr := catchFault(func() { h, dataStart, err = parseFile(mapping) }); ferr != nil {
		err = ferr
	}
	if err != nil {
		_ = syscall.Munmap(mapping)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return newFile(path, mapping, dataStart, h, false), nil
}

// newFile indexes a parsed file's tensors.
func newFile(path string, contents []byte, dataStart int64, h header, inMemory bool) *File {
	sf := &File{path: path, mapping: contents, data: contents[dataStart:], tensors: h.tensors,
		index: make(map[string]int, len(h.tensors)), metadata: h.metadata, inMemory: inMemory}
	for i, t := range h.tensors {
		sf.index[t.Name] = i
	}
	return sf
}

// FromBytes reads safetensors contents held in memory (weights embedded in
// the binary); name identifies them in errors. The File reads b in place:
// b must not change while it is used.
func FromBytes(name string, b []byte) (*File, error) {
	h, dataStart, err := parseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return newFile(name, b, dataStart, h, true), nil
}

// parseFile validates the length field and header of the safetensors file
// contents b and returns the header and the offset of the data region.
func parseFile(b []byte) (header, int64, error) {
	size := int64(len(b))
	if size < 8 {
		return header{}, 0, fmt.Errorf("file is %d bytes, too short for a safetensors file (truncated or not safetensors)", size)
	}
	hlen := binary.LittleEndian.Uint64(b)
	if hlen > MaxHeaderSize {
		return header{}, 0, fmt.Errorf("header length %d exceeds the %d-byte limit (corrupt or not a safetensors file)", hlen, MaxHeaderSize)
	}
	if hlen > uint64(size-8) {
		return header{}, 0, fmt.Errorf("header length %d exceeds the %d bytes after the length field (file truncated or not safetensors)", hlen, size-8)
	}
	dataStart := 8 + int64(hlen)
	h, err := parseHeader(b[8:dataStart], size-dataStart)
	if err != nil {
		return header{}, 0, fmt.Errorf("invalid safetensors header: %w", err)
	}
	return h, dataStart, nil
}

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, len(f.tensors))
	for i, t := range f.tensors {
		names[i] = t.Name
	}
	return names
}

// Tensors returns the descriptions of all tensors, sorted by name.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		out[i] = t
		out[i].Shape = append([]int(nil), t.Shape...)
	}
	return out
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Shape = append([]int(nil), t.Shape...)
	return t, true
}

// Dims returns the dimensions of the named tensor.
func (f *File) Dims(name string) ([]int, bool) {
	t, ok := f.Info(name)
	return t.Shape, ok
}

// Metadata returns a copy of the header's __metadata__ (nil when absent).
func (f *File) Metadata() map[string]string {
	if f.metadata == nil {
		return nil
	}
	md := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		md[k] = v
	}
	return md
}

// Bytes returns the raw little-endian data of the named tensor: a view into
// the memory mapping, valid until Close, that must not be modified. Reading
// it faults if the file is truncated meanwhile; Tensor, TensorAs and
// DecodeFloat32 turn that into an error wrapping ErrFileChanged.
func (f *File) Bytes(name string) ([]byte, error) {
	if f.mapping == nil {
		return nil, fmt.Errorf("%s: file is closed", f.path)
	}
	i, ok := f.index[name]
	if !ok {
		return nil, f.notFound(name)
	}
	t := f.tensors[i]
	return f.data[t.Begin:t.End:t.End], nil
}

func (f *File) notFound(name string) error {
	return fmt.Errorf("%s: no tensor named %q (%d tensors in the file)", f.path, name, len(f.tensors))
}

// Tensor returns the named tensor as a GoMLX tensor of its stored dtype
// (see DType.GoMLX). Float8 tensors come back as Uint8 tensors of raw codes;
// use TensorAs to decode them.
func (f *File) Tensor(name string) (*tensors.Tensor, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, f.notFound(name)
	}
	return f.TensorAs(name, info.DType.GoMLX())
}

// TensorAs returns the named tensor converted to dtype while copying out of
// the mapping (no intermediate copy). Any stored dtype converts to the
// float types Float32, Float64, BFloat16 and Float16 (narrowing rounds to
// nearest, ties to even; F64 and 64-bit integers reach BFloat16/Float16
// through float32, i.e. rounded twice); otherwise dtype must be the stored
// one (Uint8 for float8 codes). Large tensors convert on all cores.
func (f *File) TensorAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, f.notFound(name)
	}
	b, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	f.willNeed(info)
	t, err := toTensor(info, b, dtype)
	f.dontNeed(info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return t, nil
}

// ReadAs is TensorAs; with Names and Dims it makes a File usable wherever a
// tensor source with those methods is expected (e.g. flux2.TensorSource).
func (f *File) ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	return f.TensorAs(name, dtype)
}

// mappedRange returns where a tensor's data lies in the mapping, and the page
// size; ok is false for a tensor under 1 MiB, too small to advise the kernel
// about.
func (f *File) mappedRange(info TensorInfo) (start, end, page int64, ok bool) {
	if info.NumBytes() < 1<<20 || f.inMemory {
		return 0, 0, 0, false
	}
	start = int64(len(f.mapping)-len(f.data)) + info.Begin
	return start, start + info.NumBytes(), int64(os.Getpagesize()), true
}

// willNeed asks the kernel to start reading a tensor's pages (read-ahead for
// cold files); best effort, errors are ignored.
func (f *File) willNeed(info TensorInfo) {
	start, end, page, ok := f.mappedRange(info)
	if !ok {
		return
	}
	start -= start % page
	_ = syscall.Madvise(f.mapping[start:end], syscall.MADV_WILLNEED)
}

// dontNeed drops a tensor's pages from this process's resident set once it
// has been copied out: loading a checkpoint larger than RAM then keeps only
// what the model holds resident (the pages stay in the page cache, and a
// later read faults them back in). Best effort, errors are ignored.
func (f *File) dontNeed(info TensorInfo) {
	start, end, page, ok := f.mappedRange(info)
	if !ok {
		return
	}
	start += (page - start%page) % page // whole pages inside the tensor only
	end -= end % page
	if end > start {
		_ = syscall.Madvise(f.mapping[start:end], syscall.MADV_DONTNEED)
	}
}

// DataSize returns the total size of the tensor data in bytes.
func (f *File) DataSize() int64 { return int64(len(f.data)) }

// Close unmaps the file. Byte slices returned by Bytes become invalid.
func (f *File) Close() error {
	if f.mapping == nil {
		return nil
	}
	if f.inMemory {
		f.mapping, f.data = nil, nil
		return nil
	}
	err := syscall.Munmap(f.mapping)
	f.mapping, f.data = nil, nil
	if err != nil {
		return fmt.Errorf("%s: unmapping: %w", f.path, err)
	}
	return nil
}

// sortedNames returns the keys of m, sorted.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
