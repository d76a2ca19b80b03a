package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"strings"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/bucket"
)

// Version is mixed into every key; bump it when preprocessing changes in a
// way the key parts do not capture (e.g. the resize filter's code).
const Version = "flora-cache-v1"

// Key identifies a cache entry: the hex SHA-256 of its key parts.
type Key string

// Kind separates latents from text embeddings in the store.
type Kind string

// The kinds of entries.
const (
	Latent Kind = "latents"
	Text   Kind = "text"
)

// LatentKeyParts returns the lines hashed into a latent's key: the image
// content hash, the encoder identity and every preprocessing setting that
// changes the pixels (bucket, crop rectangle, flip, background, filter).
func LatentKeyParts(ds *data.Dataset, s data.Sample, encoder string) []string {
	return imageKeyParts(ds, ds.Items[s.Item].Hash, s.Bucket, s.Crop, s.Flip, encoder)
}

// ReferenceKeyParts returns the lines hashed into the key of the latent of
// reference j of a sample: the same parts as LatentKeyParts, for the
// reference's content, bucket and crop and the sample's flip. A reference
// and a target of the same content prepared the same way share an entry
// (their latents are equal); a reference's entry does not depend on its
// target.
func ReferenceKeyParts(ds *data.Dataset, s data.Sample, j int, encoder string) []string {
	r := s.References[j]
	return imageKeyParts(ds, ds.Items[s.Item].References[j].Hash, r.Bucket, r.Crop, s.Flip, encoder)
}

// ReferenceKey is the key of the latent of reference j of a sample.
func ReferenceKey(ds *data.Dataset, s data.Sample, j int, encoder string) Key {
	return hashParts(ReferenceKeyParts(ds, s, j, encoder))
}

// imageKeyParts lists the key parts of one prepared image.
func imageKeyParts(ds *data.Dataset, hash string, b bucket.Bucket, crop image.Rectangle, flip bool, encoder string) []string {
	bg := ds.Config.DecodeOptions().Background
	return []string{
		Version,
		"kind=latent",
		"content=" + hash,
		"encoder=" + encoder,
		fmt.Sprintf("bucket=%dx%d", b.Width, b.Height),
		fmt.Sprintf("crop=%d,%d,%d,%d", crop.Min.X, crop.Min.Y, crop.Max.X, crop.Max.Y),
		fmt.Sprintf("flip=%t", flip),
		fmt.Sprintf("background=#%02x%02x%02x", bg.R, bg.G, bg.B),
		"resample=lanczos3",
	}
}

// LatentKey is the key of a sample's latent.
func LatentKey(ds *data.Dataset, s data.Sample, encoder string) Key {
	return hashParts(LatentKeyParts(ds, s, encoder))
}

// TextKey is the key of a caption's embedding under an encoder identity
// (which carries the layer set and maximum length; see TextIdentity).
func TextKey(caption, encoder string) Key {
	return hashParts([]string{Version, "kind=text", "encoder=" + encoder, "caption=" + caption})
}

// hashParts hashes length-prefixed parts, so no two part lists collide by
// concatenation.
func hashParts(parts []string) Key {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return Key(hex.EncodeToString(h.Sum(nil)))
}

// valid reports whether k looks like a key (64 lower-case hex digits), so a
// key can never name a path outside the store.
func (k Key) valid() bool {
	return len(k) == 64 && strings.Trim(string(k), "0123456789abcdef") == ""
}
