// Package version holds Flora's release version, recorded in the files
// Flora writes (sample and preview PNGs) and printed by `flora version`.
package version

// Version is the release version; release builds set it with
// -ldflags "-X github.com/flora-ml/flora/internal/version.Version=v1.2.3".
var Version = "0.1.0-dev"

// Software is the value of the "software" field of the files Flora writes.
func Software() string { return "flora " + Version }
