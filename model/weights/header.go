package weights

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header of a safetensors file (the limit of
// the reference implementation).
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header entry holding free-form string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a safetensors file. Begin and End are
// byte offsets relative to the start of the data region (the end of the
// header), as in the file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	Begin int64
	End   int64
}

// NumElements returns the number of elements (1 for a scalar).
func (ti TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range ti.Shape {
		n *= int64(d)
	}
	return n
}

// NumBytes returns the size of the tensor's data in bytes.
func (ti TensorInfo) NumBytes() int64 { return ti.End - ti.Begin }

// header is a parsed and validated safetensors header.
type header struct {
	tensors  []TensorInfo // sorted by name
	metadata map[string]string
}

// parseHeader parses the JSON header raw of a file whose data region is
// dataLen bytes long, and checks it strictly: known dtypes, sizes matching
// shapes, and tensors covering the data region contiguously without overlaps,
// gaps or duplicate names. Errors describe the problem without the file name.
func parseHeader(raw []byte, dataLen int64) (header, error) {
	var h header
	if !utf8.Valid(raw) {
		return h, errors.New("header is not valid UTF-8")
	}
	if len(raw) == 0 || raw[0] != '{' {
		return h, errors.New("header must be a JSON object starting with '{' (not a safetensors file?)")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	seen := map[string]bool{}
	err := readObject(dec, "header", func(name string) error {
		if seen[name] {
			if name == metadataKey {
				return fmt.Errorf("%s appears twice", metadataKey)
			}
			return fmt.Errorf("tensor %q appears twice", name)
		}
		seen[name] = true
		if name == metadataKey {
			var err error
			h.metadata, err = parseMetadata(dec)
			return err
		}
		ti, err := parseEntry(dec, name)
		if err != nil {
			return err
		}
		h.tensors = append(h.tensors, ti)
		return nil
	})
	if err != nil {
		return h, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return h, fmt.Errorf("after the header object: %w", err)
		}
		return h, fmt.Errorf("unexpected %v after the header object", tok)
	}
	if err := checkLayout(h.tensors, dataLen); err != nil {
		return h, err
	}
	sort.Slice(h.tensors, func(i, j int) bool { return h.tensors[i].Name < h.tensors[j].Name })
	return h, nil
}

// parseEntry parses the object describing tensor name and checks it on its own.
func parseEntry(dec *json.Decoder, name string) (TensorInfo, error) {
	ti := TensorInfo{Name: name}
	where := fmt.Sprintf("tensor %q", name)
	seen := map[string]bool{}
	err := readObject(dec, where, func(field string) error {
		if seen[field] {
			return fmt.Errorf("%s: field %s appears twice", where, field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			s, err := nextString(dec, where+" dtype")
			if err != nil {
				return err
			}
			ti.DType = DType(s)
			if !ti.DType.Known() {
				return fmt.Errorf("%s: unknown dtype %q (known: %v)", where, s, allDTypes())
			}
		case "shape":
			dims, err := nextIntList(dec, where+" shape")
			if err != nil {
				return err
			}
			ti.Shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return fmt.Errorf("%s: dimension %d too large", where, d)
				}
				ti.Shape[i] = int(d)
			}
		case "data_offsets":
			offs, err := nextIntList(dec, where+" data_offsets")
			if err != nil {
				return err
			}
			if len(offs) != 2 {
				return fmt.Errorf("%s: data_offsets must be [begin, end], got %d numbers", where, len(offs))
			}
			ti.Begin, ti.End = offs[0], offs[1]
		default:
			return fmt.Errorf("%s: unexpected field %q (allowed: dtype, shape, data_offsets)", where, field)
		}
		return nil
	})
	if err != nil {
		return ti, err
	}
	switch {
	case !seen["dtype"]:
		return ti, fmt.Errorf("%s: missing dtype", where)
	case !seen["shape"]:
		return ti, fmt.Errorf("%s: missing shape", where)
	case !seen["data_offsets"]:
		return ti, fmt.Errorf("%s: missing data_offsets", where)
	case ti.Begin > ti.End:
		return ti, fmt.Errorf("%s: data_offsets [%d, %d] end before they begin", where, ti.Begin, ti.End)
	}
	want, ok := byteSize(ti.DType, ti.Shape)
	if !ok {
		return ti, fmt.Errorf("%s: shape %v is too large (element count overflows)", where, ti.Shape)
	}
	if want != ti.End-ti.Begin {
		return ti, fmt.Errorf("%s: shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
			where, ti.Shape, ti.DType, want, ti.Begin, ti.End, ti.End-ti.Begin)
	}
	return ti, nil
}

// byteSize returns the data size of a tensor, or false when it overflows int64.
func byteSize(dt DType, shape []int) (int64, bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n := uint64(dt.Size())
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return int64(n), true
}

// checkLayout checks that the tensors cover [0, dataLen) exactly, in order of
// their offsets, like the reference implementation.
func checkLayout(ts []TensorInfo, dataLen int64) error {
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := ts[order[a]], ts[order[b]]
		if x.Begin != y.Begin {
			return x.Begin < y.Begin
		}
		if x.End != y.End {
			return x.End < y.End
		}
		return x.Name < y.Name
	})
	var pos int64
	prev := ""
	for _, i := range order {
		t := ts[i]
		if t.End > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the data (%d bytes)", t.Name, t.Begin, t.End, dataLen)
		}
		switch {
		case t.Begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q (which ends at %d)", t.Name, t.Begin, t.End, prev, pos)
		case t.Begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap of %d bytes after offset %d", t.Name, t.Begin, t.End, t.Begin-pos, pos)
		}
		pos, prev = t.End, t.Name
	}
	if pos != dataLen {
		return fmt.Errorf("the tensors cover %d bytes but the data region holds %d (trailing bytes not described by the header)", pos, dataLen)
	}
	return nil
}

// parseMetadata parses the __metadata__ value: null or an object of strings.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", metadataKey, err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%s must be an object of strings, got %v", metadataKey, describeToken(tok))
	}
	md := map[string]string{}
	err = readMembers(dec, metadataKey, func(k string) error {
		if _, dup := md[k]; dup {
			return fmt.Errorf("%s: key %q appears twice", metadataKey, k)
		}
		v, err := nextString(dec, fmt.Sprintf("%s[%q]", metadataKey, k))
		if err != nil {
			return err
		}
		md[k] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return md, nil
}
