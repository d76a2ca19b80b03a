package imageio

import (
	"bytes"
	"image"
	"image/jpeg"
)

func jpegDecodeRaw(data []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(data)) }
