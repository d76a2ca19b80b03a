package imageio

import "fmt"

// Kind classifies why an image could not be decoded.
type Kind string

// The kinds of decoding failures.
const (
	// KindEmpty is a zero-byte file.
	KindEmpty Kind = "empty file"
	// KindNotImage is a file whose content is not an image (text, video...).
	KindNotImage Kind = "not an image"
	// KindUnsupported is an image in a format Flora does not decode.
	KindUnsupported Kind = "unsupported format"
	// KindTruncated is an image whose data ends early.
	KindTruncated Kind = "truncated"
	// KindCorrupt is an image whose data is invalid.
	KindCorrupt Kind = "corrupt"
	// KindTooLarge is an image above the pixel or byte limits.
	KindTooLarge Kind = "too large"
	// KindIO is a file that could not be read.
	KindIO Kind = "read error"
)

// DecodeError is the error returned for an image that cannot be decoded.
// Msg is a complete sentence fragment meant for users ("truncated JPEG:
// ..."); Err is the underlying error, if any.
type DecodeError struct {
	Kind Kind
	Msg  string
	Err  error
}

// Error implements error.
func (e *DecodeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Msg, e.Err)
	}
	return e.Msg
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }
