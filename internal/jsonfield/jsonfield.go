// Package jsonfield helps read optional fields of JSON config files
// (Hugging Face and diffusers config.json), decoded as pointers so that an
// absent field is told from a zero value.
package jsonfield

// Set overwrites *dst with *v when the field was present (v is not nil),
// keeping the default in *dst otherwise.
func Set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
