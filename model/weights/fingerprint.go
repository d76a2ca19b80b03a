package weights

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// fingerprintSample is how many bytes are hashed from the start, middle and
// end of each file's data region.
const fingerprintSample = 1 << 16

// Fingerprint is a short content identity of the file: a SHA-256 over the
// header (every name, dtype, shape, offset and the metadata) and samples of
// the data from its start, middle and end. It changes when the weights
// change while reading only a few hundred KB of a multi-GB file, so caches
// keyed on it notice a replaced model without hashing all of it.
func (f *File) Fingerprint() string {
	h := sha256.New()
	f.fingerprint(h)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (f *File) fingerprint(h interface{ Write([]byte) (int, error) }) {
	headerEnd := len(f.mapping) - len(f.data)
	h.Write(f.mapping[:headerEnd])
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(f.data)))
	h.Write(n[:])
	sample := func(off int) {
		off = max(off, 0)
		end := min(len(f.data), off+fingerprintSample)
		if off < end {
			h.Write(f.data[off:end])
		}
	}
	sample(0)
	sample(len(f.data)/2 - fingerprintSample/2)
	sample(len(f.data) - fingerprintSample)
}

// Fingerprint is the content identity of all the checkpoint's files (see
// File.Fingerprint).
func (c *Checkpoint) Fingerprint() string {
	h := sha256.New()
	for _, f := range c.files {
		f.fingerprint(h)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
