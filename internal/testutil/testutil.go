// Package testutil holds helpers shared by Flora's tests: the backend under
// test and numeric comparison helpers.
package testutil

import (
	"os"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	_ "github.com/flora-ml/flora/internal/gomlxfix" // GEMM VJPs and missing gradients.
)

// BackendEnv names the environment variable selecting the backend for tests.
// The default is the pure-Go backend.
const BackendEnv = "FLORA_TEST_BACKEND"

var (
	backendOnce sync.Once
	backend     backends.Backend
	backendErr  error
)

// Backend returns the backend shared by all tests of a test binary.
func Backend(tb testing.TB) backends.Backend {
	tb.Helper()
	backendOnce.Do(func() {
		spec := os.Getenv(BackendEnv)
		if spec == "" || spec == "go" {
			// parallelism=-1 avoids the worker-pool deadlock of v0.26.0 on 2 cores.
			backend, backendErr = simplego.New("parallelism=-1")
			return
		}
		backend, backendErr = backends.NewWithConfig(spec)
	})
	if backendErr != nil {
		tb.Fatalf("creating test backend: %v", backendErr)
	}
	return backend
}
