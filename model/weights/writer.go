package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
)

// writeBufferSize is the buffer between the Writer and the file.
const writeBufferSize = 8 << 20

// TensorSpec describes a tensor to write: everything but its data.
type TensorSpec struct {
	Name  string
	DType DType
	Shape []int
}

// NumBytes returns the data size of the tensor, or an error when the spec is
// invalid (unknown dtype, negative dimension, size overflow).
func (s TensorSpec) NumBytes() (int64, error) {
	if !s.DType.Known() {
		return 0, fmt.Errorf("tensor %q: unknown dtype %q", s.Name, s.DType)
	}
	for _, d := range s.Shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor %q: negative dimension in shape %v", s.Name, s.Shape)
		}
	}
	n, ok := byteSize(s.DType, s.Shape)
	if !ok {
		return 0, fmt.Errorf("tensor %q: shape %v is too large", s.Name, s.Shape)
	}
	return n, nil
}

// TensorData is a tensor to write with its raw little-endian data.
type TensorData struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Spec returns the description of td without its data.
func (td TensorData) Spec() TensorSpec {
	return TensorSpec{Name: td.Name, DType: td.DType, Shape: td.Shape}
}

// FromTensor copies a GoMLX tensor into a TensorData of the same dtype.
func FromTensor(name string, t *tensors.Tensor) (TensorData, error) {
	dt, err := FromGoMLX(t.DType())
	if err != nil {
		return TensorData{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	td := TensorData{Name: name, DType: dt, Shape: t.Shape().Clone().Dimensions}
	if t.Size() == 0 {
		return td, nil
	}
	err = t.ConstBytes(func(data []byte) { td.Data = bytes.Clone(data) })
	if err != nil {
		return TensorData{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	return td, nil
}

// Float32Data returns float32 values as an F32 TensorData.
func Float32Data(name string, shape []int, values []float32) TensorData {
	data, _ := EncodeFloat32(F32, values) // F32 is a float dtype: no error.
	return TensorData{Name: name, DType: F32, Shape: shape, Data: data}
}

// Float32DataAs returns float32 values encoded as float dtype dt (see
// EncodeFloat32 for the rounding).
func Float32DataAs(name string, dt DType, shape []int, values []float32) (TensorData, error) {
	data, err := EncodeFloat32(dt, values)
	if err != nil {
		return TensorData{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	return TensorData{Name: name, DType: dt, Shape: shape, Data: data}, nil
}

// WriteFile writes tensors and metadata (may be nil) to a safetensors file at
// path, atomically: the data goes to a temporary file in the same folder,
// which is synced and renamed over path.
func WriteFile(path string, ts []TensorData, metadata map[string]string) error {
	specs := make([]TensorSpec, len(ts))
	for i, t := range ts {
		specs[i] = t.Spec()
	}
	w, err := NewWriter(path, specs, metadata)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, t := range ts {
		if err := w.WriteTensor(t.Name, t.Data); err != nil {
			return err
		}
	}
	return w.Commit()
}

// Writer streams a safetensors file: NewWriter writes the header from the
// tensor specs, then the data of each tensor is written in spec order with
// Write, WriteTensor or WriteFloat32s, and Commit makes the file appear at
// its path. Memory use does not depend on the size of the file.
type Writer struct {
	path  string
	file  *fsutil.AtomicFile
	buf   *bufio.Writer
	specs []TensorSpec
	sizes []int64
	cur   int   // tensor whose data comes next
	done  int64 // bytes of tensor cur already written
	err   error // first error; the writer is unusable after it
}

// NewWriter validates the specs (unique non-empty names, known dtypes,
// valid shapes) and starts writing the file at path with its header.
// Call Commit to finish, or Abort to discard.
func NewWriter(path string, specs []TensorSpec, metadata map[string]string) (*Writer, error) {
	hdr, sizes, err := encodeHeader(specs, metadata)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	af, err := fsutil.CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, file: af, buf: bufio.NewWriterSize(af, writeBufferSize), specs: specs, sizes: sizes}
	var lenField [8]byte
	binary.LittleEndian.PutUint64(lenField[:], uint64(len(hdr)))
	if _, err := w.buf.Write(lenField[:]); err != nil {
		af.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := w.buf.Write(hdr); err != nil {
		af.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return w, nil
}

// encodeHeader returns the JSON header for specs, padded with spaces to a
// multiple of 8 bytes, and the data size of each tensor.
func encodeHeader(specs []TensorSpec, metadata map[string]string) ([]byte, []int64, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		b.WriteString(jsonString(metadataKey))
		b.WriteString(":{")
		for i, k := range sortedNames(metadata) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(k))
			b.WriteByte(':')
			b.WriteString(jsonString(metadata[k]))
		}
		b.WriteByte('}')
	}
	seen := make(map[string]bool, len(specs))
	sizes := make([]int64, len(specs))
	var offset int64
	for i, s := range specs {
		switch {
		case s.Name == "":
			return nil, nil, fmt.Errorf("tensor #%d has an empty name", i)
		case s.Name == metadataKey:
			return nil, nil, fmt.Errorf("tensor name %q is reserved", metadataKey)
		case seen[s.Name]:
			return nil, nil, fmt.Errorf("tensor %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		n, err := s.NumBytes()
		if err != nil {
			return nil, nil, err
		}
		sizes[i] = n
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(s.Name))
		b.WriteString(`:{"dtype":"`)
		b.WriteString(string(s.DType))
		b.WriteString(`","shape":[`)
		for j, d := range s.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(offset, 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(offset+n, 10))
		b.WriteString("]}")
		offset += n
		if offset < 0 {
			return nil, nil, errors.New("total data size overflows")
		}
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit readers enforce", b.Len(), MaxHeaderSize)
	}
	return b.Bytes(), sizes, nil
}

// jsonString encodes s as a JSON string without HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// Next returns the spec of the tensor whose data comes next (possibly a
// zero-size one, which needs no data), and false when all tensors are done.
func (w *Writer) Next() (TensorSpec, bool) {
	if w.cur >= len(w.specs) {
		return TensorSpec{}, false
	}
	return w.specs[w.cur], true
}

// skipEmpty moves past zero-size tensors at the write position, stopping at
// the one named stop (if any): raw data can't address them, and they need
// no data.
func (w *Writer) skipEmpty(stop string) {
	for w.cur < len(w.specs) && w.sizes[w.cur] == 0 && w.specs[w.cur].Name != stop {
		w.cur++
	}
}

// advance records n bytes written to tensor cur, moving on when it is complete.
func (w *Writer) advance(n int64) {
	w.done += n
	if w.cur < len(w.specs) && w.done == w.sizes[w.cur] {
		w.cur++
		w.done = 0
	}
}

// Write streams raw tensor data in spec order; p may span tensors. Writing
// more than the specs describe is an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	var written int
	for len(p) > 0 {
		w.skipEmpty("")
		if w.cur >= len(w.specs) {
			w.err = fmt.Errorf("writing %s: %d bytes of data beyond the last tensor", w.path, len(p))
			return written, w.err
		}
		n := int(min(int64(len(p)), w.sizes[w.cur]-w.done))
		if _, err := w.buf.Write(p[:n]); err != nil {
			w.err = fmt.Errorf("writing %s: %w", w.path, err)
			return written, w.err
		}
		written += n
		p = p[n:]
		w.advance(int64(n))
	}
	return written, nil
}

// WriteTensor writes the complete data of the next tensor, which must be
// the one named.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if err := w.expectStart(name); err != nil {
		return err
	}
	if int64(len(data)) != w.sizes[w.cur] {
		s := w.specs[w.cur]
		return fmt.Errorf("writing %s: tensor %q of shape %v and dtype %s needs %d bytes, got %d",
			w.path, name, s.Shape, s.DType, w.sizes[w.cur], len(data))
	}
	if len(data) == 0 {
		w.cur++ // a zero-size tensor: nothing to write
		return nil
	}
	_, err := w.Write(data)
	return err
}

// WriteFloat32s encodes values in the dtype of the tensor being written
// (a float dtype; see EncodeFloat32) and writes them. A tensor may be
// written in several calls; values must not run past its end.
func (w *Writer) WriteFloat32s(values []float32) error {
	if w.err != nil {
		return w.err
	}
	if len(values) == 0 {
		return nil
	}
	w.skipEmpty("")
	s, ok := w.Next()
	if !ok {
		return fmt.Errorf("writing %s: %d values beyond the last tensor", w.path, len(values))
	}
	if !s.DType.IsFloat() {
		return fmt.Errorf("writing %s: tensor %q is %s, not a float dtype", w.path, s.Name, s.DType)
	}
	sz := int64(s.DType.Size())
	if w.done%sz != 0 {
		return fmt.Errorf("writing %s: tensor %q: data written so far ends inside an element", w.path, s.Name)
	}
	if left := (w.sizes[w.cur] - w.done) / sz; int64(len(values)) > left {
		return fmt.Errorf("writing %s: tensor %q has %d elements left, got %d values", w.path, s.Name, left, len(values))
	}
	var chunk [chunkElems * 8]byte
	for len(values) > 0 {
		n := min(len(values), chunkElems)
		out := chunk[:n*int(sz)]
		encodeFloat32s(out, values[:n], s.DType)
		if _, err := w.Write(out); err != nil {
			return err
		}
		values = values[n:]
	}
	return nil
}

func (w *Writer) expectStart(name string) error {
	if w.done == 0 {
		w.skipEmpty(name)
	}
	s, ok := w.Next()
	switch {
	case !ok:
		return fmt.Errorf("writing %s: tensor %q after all tensors were written", w.path, name)
	case s.Name != name:
		return fmt.Errorf("writing %s: got tensor %q but the next one in the header is %q", w.path, name, s.Name)
	case w.done != 0:
		return fmt.Errorf("writing %s: tensor %q is already partly written", w.path, name)
	}
	return nil
}

// Commit checks that all data was written, flushes and syncs the file and
// renames it to its path.
func (w *Writer) Commit() error {
	if w.err != nil {
		w.file.Abort()
		return w.err
	}
	if w.done == 0 {
		w.skipEmpty("")
	}
	if s, ok := w.Next(); ok {
		w.file.Abort()
		w.err = fmt.Errorf("writing %s: data of tensor %q (and any after it) is missing", w.path, s.Name)
		return w.err
	}
	if err := w.buf.Flush(); err != nil {
		w.file.Abort()
		w.err = fmt.Errorf("writing %s: %w", w.path, err)
		return w.err
	}
	if err := w.file.Commit(); err != nil {
		w.err = err
		return err
	}
	w.err = fmt.Errorf("writing %s: already committed", w.path)
	return nil
}

// Abort discards the temporary file; the target path is untouched. It is a
// no-op after Commit, so `defer w.Abort()` is safe.
func (w *Writer) Abort() {
	w.file.Abort()
	if w.err == nil {
		w.err = fmt.Errorf("writing %s: aborted", w.path)
	}
}
