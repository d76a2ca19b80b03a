package data

import (
	"errors"
	"fmt"
)

// Severity tells whether a problem stops a file from being used.
type Severity string

// The severities.
const (
	// Warning: the file is used (or harmlessly skipped), but check it.
	Warning Severity = "warning"
	// Error: the file is broken and cannot be used.
	Error Severity = "error"
)

// ProblemKind classifies dataset problems.
type ProblemKind string

// The kinds of problems Scan reports.
const (
	ProblemUnreadable     ProblemKind = "unreadable"      // image cannot be read or decoded (Error)
	ProblemTooSmall       ProblemKind = "too small"       // shorter side below min side; skipped (Warning)
	ProblemMissingCaption ProblemKind = "missing caption" // no caption file, entry or default (Warning)
	ProblemOrphanCaption  ProblemKind = "orphan caption"  // caption without an image (Warning)
	ProblemBadUTF8        ProblemKind = "bad UTF-8"       // caption is not valid UTF-8; image skipped (Error)
	ProblemBadCaption     ProblemKind = "bad caption"     // caption file unreadable, metadata line malformed (Error)
	ProblemDuplicate      ProblemKind = "duplicate"       // same content as another image (Warning)
	ProblemUpscaled       ProblemKind = "upscaled"        // smaller than every resolution's buckets (Warning)
	ProblemCaption        ProblemKind = "caption"         // caption oddities: empty, conflicting sources, placeholder without trigger (Warning)
	ProblemNoImages       ProblemKind = "no images"       // a dataset folder holds no image file at all (Warning)
	// ProblemMissingReference: an image of a folder with a control folder
	// has no reference, or a metadata.jsonl reference does not exist; the
	// image is left out (Error).
	ProblemMissingReference ProblemKind = "missing reference"
	// ProblemExtraReference: a control-folder image matches no image, or is
	// not used (Warning).
	ProblemExtraReference ProblemKind = "extra reference"
	// ProblemReferenceCount: an image has another number of references than
	// most of its folder (Warning).
	ProblemReferenceCount ProblemKind = "reference count"
	// ProblemMissingMask: an image of a folder with a mask folder has no
	// mask (nor a usable alpha channel); it trains unmasked (Warning).
	ProblemMissingMask ProblemKind = "missing mask"
	// ProblemExtraMask: a mask file matches no image, or is a second mask
	// of one (Warning).
	ProblemExtraMask ProblemKind = "extra mask"
	// ProblemMaskSize: a mask's size differs from its image's; the image
	// is left out (Error).
	ProblemMaskSize ProblemKind = "mask size"
)

// Problem is one finding about one file.
type Problem struct {
	Path     string      `json:"path"`
	Severity Severity    `json:"severity"`
	Kind     ProblemKind `json:"kind"`
	Message  string      `json:"message"`
}

// String formats the problem as "path: severity: kind: message".
func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s: %s", p.Path, p.Severity, p.Kind, p.Message)
}

// Problems is a list of findings, in path order.
type Problems []Problem

// Count returns how many problems have the given severity.
func (ps Problems) Count(s Severity) int {
	n := 0
	for _, p := range ps {
		if p.Severity == s {
			n++
		}
	}
	return n
}

// Err returns an error listing every Error-severity problem, or nil.
func (ps Problems) Err() error {
	var errs []error
	for _, p := range ps {
		if p.Severity == Error {
			errs = append(errs, errors.New(p.String()))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d unusable file(s) in the dataset (fix or remove them; `flora data check` lists them):\n%w", len(errs), errors.Join(errs...))
}
