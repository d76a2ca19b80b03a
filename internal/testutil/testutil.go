// Package testutil holds helpers shared by Flora's tests: the backend under
// test, the official fixture folder, comparisons of outputs with reference
// values (RelL2, CheckRelL2, PositionIDs), an in-memory tensor source
// (MapSource), PNG decoding, test files (WriteFile, Symlink, Link) and
// CheckContains for messages. Reading checkpoint fixtures is in
// model/weights/weightstest (internal packages import nothing above them).
package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/flora-ml/flora/internal/backend"
)

// BackendEnv names the environment variable selecting the backend for tests:
// "go" (the default) or any spec of internal/backend, e.g. "xla:cpu".
const BackendEnv = "FLORA_TEST_BACKEND"

var (
	backendOnce sync.Once
	shared      backends.Backend
	sharedErr   error
)

// Backend returns the backend shared by all tests of a test binary.
func Backend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() {
		spec := os.Getenv(BackendEnv)
		if spec == "" {
			spec = "go"
		}
		shared, _, sharedErr = backend.Select(spec)
	})
	if sharedErr != nil {
		tb.Fatalf("creating test backend: %v", sharedErr)
	}
	return shared
}

// ReferenceEnv names the environment variable that overrides the folder of
// the official FLUX.2 tiny fixtures (default: testdata/flux2-official-tiny in
// the repository, copied from shared/fixtures with its README).
const ReferenceEnv = "FLUX2_REFERENCE_DIR"

// ReferenceDir returns the folder of the official FLUX.2 tiny fixtures:
// $FLUX2_REFERENCE_DIR, else the repository's testdata/flux2-official-tiny.
// The fixtures ship with the repository, so a missing folder fails the test
// rather than skipping it.
func ReferenceDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv(ReferenceEnv)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			tb.Fatalf("official fixtures: %v", err)
		}
		dir = filepath.Join(root, "testdata", "flux2-official-tiny")
	}
	if _, err := os.Stat(filepath.Join(dir, "transformer.safetensors")); err != nil {
		tb.Fatalf("official FLUX.2 fixtures not found in %s (set %s): %v", dir, ReferenceEnv, err)
	}
	return dir
}

// ReferenceFile returns the path of one official fixture file.
func ReferenceFile(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(ReferenceDir(tb), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("official fixture %s: %v", name, err)
	}
	return p
}

// RepoRoot returns the repository root: the nearest folder at or above the
// working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
