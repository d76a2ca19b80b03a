package weights

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// rawFile assembles a safetensors file from a header and data verbatim.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// writeTemp writes content to a new file name in a test folder.
func writeTemp(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	return testutil.WriteFile(t, filepath.Join(dir, name), content)
}

// mustWriteFile writes tensors with WriteFile and fails the test on error.
func mustWriteFile(t *testing.T, path string, ts []TensorData, md map[string]string) {
	t.Helper()
	if err := WriteFile(path, ts, md); err != nil {
		t.Fatalf("WriteFile(%s): %v", path, err)
	}
}

// mustOpen opens path with open (Open or OpenCheckpoint) and closes it at
// the end of the test.
func mustOpen[T interface{ Close() error }](t *testing.T, open func(string) (T, error), path string) T {
	t.Helper()
	f, err := open(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// fixture returns the path of an official tiny fixture file.
func fixture(t *testing.T, name string) string {
	t.Helper()
	return testutil.ReferenceFile(t, name)
}
