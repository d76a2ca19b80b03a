package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/flora-ml/flora/data"
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
	it := ds.Items[s.Item]
	bg := ds.Config.DecodeOptions().Background
	return []string{
		Version,
		"kind=latent",
		"content=" + it.Hash,
		"encoder=" + encoder,
		fmt.Sprintf("bucket=%dx%d", s.Bucket.Width, s.Bucket.Height),
		fmt.Sprintf("crop=%d,%d,%d,%d", s.Crop.Min.X, s.Crop.Min.Y, s.Crop.Max.X, s.Crop.Max.Y),
		fmt.Sprintf("flip=%t", s.Flip),
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
