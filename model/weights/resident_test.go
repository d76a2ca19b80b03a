package weights

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// rssFileKB reads the file-backed resident memory of this process.
func rssFileKB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestReadDropsMappedPages: reading a large tensor out of the mapping does
// not leave its pages in the process's resident set, so loading a
// checkpoint larger than RAM keeps only the copies resident.
func TestReadDropsMappedPages(t *testing.T) {
	const n = 32 << 20 // 128 MiB of float32
	data := make([]byte, 4*n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	if err := WriteFile(path, []TensorData{{Name: "w", DType: F32, Shape: []int{n}, Data: data}}, nil); err != nil {
		t.Fatal(err)
	}
	data = nil
	f := mustOpen(t, Open, path)
	before := rssFileKB(t)
	for _, read := range []func() error{
		func() error { _, err := f.Tensor("w"); return err },
		func() error { _, err := f.TensorAs("w", dtypes.BFloat16); return err },
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
		if grown := rssFileKB(t) - before; grown > 32<<10 {
			t.Errorf("file-backed RSS grew by %d MiB reading a 128 MiB tensor", grown>>10)
		}
	}
	// The view from Bytes stays valid: the pages fault back in.
	b, err := f.Bytes("w")
	if err != nil {
		t.Fatal(err)
	}
	if last := 4*n - 1; b[last] != byte(last*7) {
		t.Error("mapping content changed after dropping pages")
	}
}
