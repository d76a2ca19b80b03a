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
	"strconv"
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
	if err := expectDelim(dec, '{', "header"); err != nil {
		return h, err
	}
	seen := map[string]bool{}
	for dec.More() {
		name, err := nextKey(dec, "header")
		if err != nil {
			return h, err
		}
		if seen[name] {
			if name == metadataKey {
				return h, fmt.Errorf("%s appears twice", metadataKey)
			}
			return h, fmt.Errorf("tensor %q appears twice", name)
		}
		seen[name] = true
		if name == metadataKey {
			if h.metadata, err = parseMetadata(dec); err != nil {
				return h, err
			}
			continue
		}
		ti, err := parseEntry(dec, name)
		if err != nil {
			return h, err
		}
		h.tensors = append(h.tensors, ti)
	}
	if err := expectDelim(dec, '}', "header"); err != nil {
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
	if err := expectDelim(dec, '{', where); err != nil {
		return ti, err
	}
	var haveDType, haveShape, haveOffsets bool
	for dec.More() {
		field, err := nextKey(dec, where)
		if err != nil {
			return ti, err
		}
		switch field {
		case "dtype":
			if haveDType {
				return ti, fmt.Errorf("%s: field dtype appears twice", where)
			}
			haveDType = true
			s, err := nextString(dec, where+" dtype")
			if err != nil {
				return ti, err
			}
			ti.DType = DType(s)
			if !ti.DType.Known() {
				return ti, fmt.Errorf("%s: unknown dtype %q (known: %v)", where, s, allDTypes())
			}
		case "shape":
			if haveShape {
				return ti, fmt.Errorf("%s: field shape appears twice", where)
			}
			haveShape = true
			dims, err := nextIntList(dec, where+" shape")
			if err != nil {
				return ti, err
			}
			ti.Shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return ti, fmt.Errorf("%s: dimension %d too large", where, d)
				}
				ti.Shape[i] = int(d)
			}
		case "data_offsets":
			if haveOffsets {
				return ti, fmt.Errorf("%s: field data_offsets appears twice", where)
			}
			haveOffsets = true
			offs, err := nextIntList(dec, where+" data_offsets")
			if err != nil {
				return ti, err
			}
			if len(offs) != 2 {
				return ti, fmt.Errorf("%s: data_offsets must be [begin, end], got %d numbers", where, len(offs))
			}
			ti.Begin, ti.End = offs[0], offs[1]
		default:
			return ti, fmt.Errorf("%s: unexpected field %q (allowed: dtype, shape, data_offsets)", where, field)
		}
	}
	if err := expectDelim(dec, '}', where); err != nil {
		return ti, err
	}
	switch {
	case !haveDType:
		return ti, fmt.Errorf("%s: missing dtype", where)
	case !haveShape:
		return ti, fmt.Errorf("%s: missing shape", where)
	case !haveOffsets:
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
	for dec.More() {
		k, err := nextKey(dec, metadataKey)
		if err != nil {
			return nil, err
		}
		if _, dup := md[k]; dup {
			return nil, fmt.Errorf("%s: key %q appears twice", metadataKey, k)
		}
		v, err := nextString(dec, fmt.Sprintf("%s[%q]", metadataKey, k))
		if err != nil {
			return nil, err
		}
		md[k] = v
	}
	if err := expectDelim(dec, '}', metadataKey); err != nil {
		return nil, err
	}
	return md, nil
}

// nextToken reads the next JSON token; an error names where it was read.
func nextToken(dec *json.Decoder, where string) (json.Token, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, jsonErr(err))
	}
	return tok, nil
}

func expectDelim(dec *json.Decoder, d json.Delim, where string) error {
	tok, err := nextToken(dec, where)
	if err != nil {
		return err
	}
	if tok != d {
		what := "an object"
		if d == '}' {
			what = "the end of the object"
		}
		return fmt.Errorf("%s must be %s, got %s", where, what, describeToken(tok))
	}
	return nil
}

func nextKey(dec *json.Decoder, where string) (string, error) {
	return nextStringToken(dec, where, where+": expected a key")
}

func nextString(dec *json.Decoder, where string) (string, error) {
	return nextStringToken(dec, where, where+" must be a string")
}

// nextStringToken reads a string token; any other token is an error saying
// wrong, then what it got.
func nextStringToken(dec *json.Decoder, where, wrong string) (string, error) {
	tok, err := nextToken(dec, where)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s, got %s", wrong, describeToken(tok))
	}
	return s, nil
}

// nextIntList reads a JSON array of non-negative integers.
func nextIntList(dec *json.Decoder, where string) ([]int64, error) {
	tok, err := nextToken(dec, where)
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("%s must be a list of non-negative integers, got %s", where, describeToken(tok))
	}
	var out []int64
	for dec.More() {
		tok, err := nextToken(dec, where)
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of non-negative integers, got %s", where, describeToken(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s: %s is not a non-negative 64-bit integer", where, num)
		}
		out = append(out, v)
	}
	if _, err := nextToken(dec, where); err != nil { // the closing ']'
		return nil, err
	}
	return out, nil
}

// describeToken renders a JSON token for an error message.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "a list"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + string(v)
	case bool:
		return fmt.Sprintf("%v", v)
	}
	return fmt.Sprintf("%v", tok)
}

// jsonErr turns the decoder's io.EOF into a clearer message.
func jsonErr(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("JSON ends early")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
