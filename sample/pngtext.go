package sample

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
)

// TextChunk is one key/value text entry of a PNG file.
type TextChunk struct {
	Key, Value string
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// EncodePNG writes img as PNG with the text entries stored as iTXt chunks
// (UTF-8) right after the header, so an image says how it was made.
func EncodePNG(w io.Writer, img image.Image, text []TextChunk) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	data := buf.Bytes()
	// Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 crc).
	const ihdrEnd = 8 + 25
	if len(data) < ihdrEnd || !bytes.Equal(data[:8], pngSignature) {
		return errors.New("png encoder produced an unexpected stream")
	}
	if _, err := w.Write(data[:ihdrEnd]); err != nil {
		return err
	}
	for _, t := range text {
		if err := writeITXt(w, t); err != nil {
			return err
		}
	}
	_, err := w.Write(data[ihdrEnd:])
	return err
}

func writeITXt(w io.Writer, t TextChunk) error {
	if t.Key == "" || len(t.Key) > 79 {
		return fmt.Errorf("png text key %q must be 1-79 bytes", t.Key)
	}
	var body bytes.Buffer
	body.WriteString(t.Key)
	// null, compression flag 0, method 0, empty language, null, empty translated key, null.
	body.Write([]byte{0, 0, 0, 0, 0})
	body.WriteString(t.Value)
	return writeChunk(w, "iTXt", body.Bytes())
}

func writeChunk(w io.Writer, kind string, body []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(body)))
	copy(hdr[4:], kind)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(body)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	for _, b := range [][]byte{hdr[:], body, sum[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// ReadPNGText returns the tEXt and iTXt entries of a PNG stream, in order.
func ReadPNGText(r io.Reader) ([]TextChunk, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) < 8 || !bytes.Equal(data[:8], pngSignature) {
		return nil, errors.New("not a PNG file")
	}
	var out []TextChunk
	for p := 8; p+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		if n < 0 || p+12+n > len(data) {
			return nil, errors.New("truncated PNG chunk")
		}
		kind := string(data[p+4 : p+8])
		body := data[p+8 : p+8+n]
		switch kind {
		case "tEXt":
			if k, v, ok := bytes.Cut(body, []byte{0}); ok {
				out = append(out, TextChunk{string(k), string(v)})
			}
		case "iTXt":
			k, rest, ok := bytes.Cut(body, []byte{0})
			if ok && len(rest) >= 2 && rest[0] == 0 {
				rest = rest[2:]
				if _, rest, ok = bytes.Cut(rest, []byte{0}); ok {
					if _, rest, ok = bytes.Cut(rest, []byte{0}); ok {
						out = append(out, TextChunk{string(k), string(rest)})
					}
				}
			}
		case "IEND":
			return out, nil
		}
		p += 12 + n
	}
	return out, nil
}
