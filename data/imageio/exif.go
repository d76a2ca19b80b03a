package imageio

import (
	"bytes"
	"encoding/binary"
)

// Orientation is the EXIF orientation tag (0x0112): how the stored pixels
// must be transformed for display. 1 is "as stored"; 2–8 are the flips and
// rotations of the EXIF/TIFF specification.
type Orientation int

// The EXIF orientations (named by the transform that displays the image).
const (
	OrientNormal     Orientation = 1 // as stored
	OrientFlipH      Orientation = 2 // mirror left-right
	OrientRotate180  Orientation = 3 // rotate 180°
	OrientFlipV      Orientation = 4 // mirror top-bottom
	OrientTranspose  Orientation = 5 // mirror along the top-left/bottom-right diagonal
	OrientRotate90CW Orientation = 6 // rotate 90° clockwise
	OrientTransverse Orientation = 7 // mirror along the top-right/bottom-left diagonal
	OrientRotate270  Orientation = 8 // rotate 90° counter-clockwise
)

// SwapsAxes reports whether the orientation exchanges width and height.
func (o Orientation) SwapsAxes() bool { return o >= 5 && o <= 8 }

// exifTagOrientation is the TIFF tag number of the orientation.
const exifTagOrientation = 0x0112

// exifHeader prefixes the TIFF structure inside JPEG APP1 (and sometimes
// PNG eXIf / WebP EXIF) payloads.
var exifHeader = []byte("Exif\x00\x00")

// ReadOrientation returns the EXIF orientation stored in an image file of the
// given format, or OrientNormal when there is none or it is malformed. It
// understands JPEG APP1 Exif segments, PNG eXIf chunks, WebP EXIF chunks and
// the orientation tag of TIFF files. It never reads outside data.
func ReadOrientation(f Format, data []byte) Orientation {
	switch f {
	case JPEG:
		return jpegOrientation(data)
	case PNG:
		return pngOrientation(data)
	case WebP:
		return webpOrientation(data)
	case TIFF:
		return tiffOrientation(data)
	}
	return OrientNormal
}

// jpegOrientation walks the JPEG marker segments up to the first scan.
func jpegOrientation(data []byte) Orientation {
	pos := 2 // after SOI
	for pos+4 <= len(data) {
		if data[pos] != 0xFF {
			return OrientNormal
		}
		marker := data[pos+1]
		switch {
		case marker == 0xFF: // fill byte
			pos++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8): // standalone markers
			pos += 2
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return OrientNormal
		}
		length := int(binary.BigEndian.Uint16(data[pos+2:]))
		if length < 2 || pos+2+length > len(data) {
			return OrientNormal
		}
		segment := data[pos+4 : pos+2+length]
		if marker == 0xE1 && bytes.HasPrefix(segment, exifHeader) {
			if o := tiffOrientation(segment[len(exifHeader):]); o != OrientNormal {
				return o
			}
		}
		pos += 2 + length
	}
	return OrientNormal
}

// pngOrientation looks for an eXIf chunk.
func pngOrientation(data []byte) Orientation {
	pos := 8 // after the signature
	for pos+8 <= len(data) {
		length := int64(binary.BigEndian.Uint32(data[pos:]))
		kind := string(data[pos+4 : pos+8])
		end := int64(pos) + 8 + length
		if end > int64(len(data)) || kind == "IEND" {
			return OrientNormal
		}
		if kind == "eXIf" {
			return tiffOrientation(bytes.TrimPrefix(data[pos+8:end], exifHeader))
		}
		pos = int(end) + 4 // skip the CRC
	}
	return OrientNormal
}

// webpOrientation looks for an EXIF chunk in a RIFF WebP file.
func webpOrientation(data []byte) Orientation {
	pos := 12 // after "RIFF" size "WEBP"
	for pos+8 <= len(data) {
		kind := string(data[pos : pos+4])
		length := int64(binary.LittleEndian.Uint32(data[pos+4:]))
		end := int64(pos) + 8 + length
		if end > int64(len(data)) {
			return OrientNormal
		}
		if kind == "EXIF" {
			return tiffOrientation(bytes.TrimPrefix(data[pos+8:end], exifHeader))
		}
		pos = int(end + end&1) // chunks are padded to even sizes
	}
	return OrientNormal
}

// tiffOrientation reads the orientation tag of IFD0 of a TIFF structure.
func tiffOrientation(tiff []byte) Orientation {
	if len(tiff) < 8 {
		return OrientNormal
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return OrientNormal
	}
	if order.Uint16(tiff[2:]) != 42 {
		return OrientNormal
	}
	ifd := int64(order.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return OrientNormal
	}
	count := int64(order.Uint16(tiff[ifd:]))
	entries := ifd + 2
	if entries+12*count > int64(len(tiff)) {
		return OrientNormal
	}
	for i := int64(0); i < count; i++ {
		e := tiff[entries+12*i : entries+12*i+12]
		if order.Uint16(e) != exifTagOrientation {
			continue
		}
		var v uint32
		switch order.Uint16(e[2:]) { // field type
		case 3: // SHORT
			v = uint32(order.Uint16(e[8:]))
		case 4: // LONG
			v = order.Uint32(e[8:])
		default:
			return OrientNormal
		}
		if v >= 1 && v <= 8 {
			return Orientation(v)
		}
		return OrientNormal
	}
	return OrientNormal
}
