// Package testutil holds helpers shared by Flora's tests: the backend under
// test.
package testutil

import (
	"os"
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
