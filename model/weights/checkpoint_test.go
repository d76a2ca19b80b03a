package weights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/testutil"
)

// writeIndex writes an index file mapping names to shard files.
func writeIndex(t *testing.T, path string, weightMap map[string]string) {
	t.Helper()
	doc := map[string]any{"metadata": map[string]any{"total_size": 123}, "weight_map": weightMap}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, path, raw)
}

// shardedDir writes two shards: s1 holds a, b; s2 holds c.
func shardedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mustWriteFile(t, filepath.Join(dir, "s1.safetensors"), []TensorData{
		Float32Data("a", []int{2}, []float32{1, 2}),
		Float32Data("b", []int{1}, []float32{3}),
	}, map[string]string{"format": "pt", "shard": "1"})
	mustWriteFile(t, filepath.Join(dir, "s2.safetensors"), []TensorData{
		Float32Data("c", []int{3}, []float32{4, 5, 6}),
	}, map[string]string{"shard": "2", "extra": "x"})
	return dir
}

func TestCheckpointSharded(t *testing.T) {
	dir := shardedDir(t)
	index := filepath.Join(dir, "model"+IndexSuffix)
	writeIndex(t, index, map[string]string{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"})
	for _, path := range []string{index, dir} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c := mustOpen(t, OpenCheckpoint, path)
			if got := c.Names(); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Errorf("Names = %v", got)
			}
			if got := c.Files(); len(got) != 2 || filepath.Base(got[0]) != "s1.safetensors" || filepath.Base(got[1]) != "s2.safetensors" {
				t.Errorf("Files = %v", got)
			}
			x, err := c.TensorAs("c", dtypes.Float32)
			if err != nil || !slices.Equal(tensorFloat32s(t, x), []float32{4, 5, 6}) {
				t.Errorf("TensorAs(c) = %v, %v", x, err)
			}
			if d, ok := c.Dims("a"); !ok || !slices.Equal(d, []int{2}) {
				t.Errorf("Dims(a) = %v, %v", d, ok)
			}
			if p, ok := c.FileOf("b"); !ok || filepath.Base(p) != "s1.safetensors" {
				t.Errorf("FileOf(b) = %v", p)
			}
			md := c.Metadata()
			if md["shard"] != "1" || md["format"] != "pt" || md["extra"] != "x" {
				t.Errorf("Metadata = %v (first shard must win)", md)
			}
			if _, err := c.Tensor("zz"); err == nil || !strings.Contains(err.Error(), `no tensor named "zz"`) {
				t.Errorf("Tensor(zz) error = %v", err)
			}
		})
	}
}

func TestCheckpointFolderWithoutIndex(t *testing.T) {
	dir := shardedDir(t)
	c := mustOpen(t, OpenCheckpoint, dir)
	if got := c.Names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Names = %v", got)
	}
	single := mustOpen(t, OpenCheckpoint, filepath.Join(dir, "s2.safetensors"))
	if got := single.Names(); !slices.Equal(got, []string{"c"}) {
		t.Errorf("single-file Names = %v", got)
	}
}

func TestCheckpointRejects(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to open
		want  string
	}{
		{"missing shard", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			writeIndex(t, p, map[string]string{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors", "d": "s3.safetensors"})
			return p
		}, "lists 1 tensors in shard s3.safetensors, which cannot be opened"},
		{"tensor missing in shard", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			writeIndex(t, p, map[string]string{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors", "d": "s2.safetensors"})
			return p
		}, `lists tensor "d" in s2.safetensors, but that file does not hold it`},
		{"tensor not in index", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			writeIndex(t, p, map[string]string{"a": "s1.safetensors", "c": "s2.safetensors"})
			return p
		}, `holds tensor "b" but the index`},
		{"duplicate across shards (index)", func(t *testing.T, dir string) string {
			mustWriteFile(t, filepath.Join(dir, "s2.safetensors"), []TensorData{
				Float32Data("b", []int{1}, []float32{9}), Float32Data("c", []int{1}, []float32{4}),
			}, nil)
			p := filepath.Join(dir, "m"+IndexSuffix)
			writeIndex(t, p, map[string]string{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"})
			return p
		}, `holds tensor "b" but the index`},
		{"duplicate across shards (folder)", func(t *testing.T, dir string) string {
			mustWriteFile(t, filepath.Join(dir, "s3.safetensors"), []TensorData{Float32Data("a", []int{1}, []float32{9})}, nil)
			return dir
		}, `tensor "a" is in both`},
		{"duplicate key in weight_map", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			os.WriteFile(p, []byte(`{"weight_map":{"a":"s1.safetensors","a":"s2.safetensors"}}`), 0o644)
			return p
		}, `weight_map lists tensor "a" twice`},
		{"shard outside folder", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			writeIndex(t, p, map[string]string{"a": "../s1.safetensors"})
			return p
		}, "shard must be a file name in the index's folder"},
		{"no weight_map", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			os.WriteFile(p, []byte(`{"metadata":{}}`), 0o644)
			return p
		}, "no weight_map"},
		{"index not JSON", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m"+IndexSuffix)
			os.WriteFile(p, []byte(`weight_map`), 0o644)
			return p
		}, "not a JSON object"},
		{"two index files in folder", func(t *testing.T, dir string) string {
			writeIndex(t, filepath.Join(dir, "m"+IndexSuffix), map[string]string{"a": "s1.safetensors"})
			writeIndex(t, filepath.Join(dir, "n"+IndexSuffix), map[string]string{"a": "s1.safetensors"})
			return dir
		}, "holds 2 index files"},
		{"corrupt shard", func(t *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "s2.safetensors"), []byte("garbage!!"), 0o644)
			return dir
		}, "s2.safetensors: header length"},
		{"missing path", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope.safetensors") }, "nope.safetensors does not exist"},
		// A FIFO would block a plain open forever; a device would be read.
		{"named pipe", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "pipe.safetensors")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "pipe.safetensors is a named pipe (FIFO), not a regular file"},
		{"device", func(t *testing.T, dir string) string { return "/dev/zero" }, "/dev/zero is a character device, not a regular file"},
		{"named pipe as index", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "p"+IndexSuffix)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is a named pipe (FIFO), not a regular file"},
		{"symbolic link loop", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "loop.safetensors")
			testutil.Symlink(t, p, p)
			return p
		}, "loop.safetensors: symbolic link loop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := shardedDir(t)
			path := tc.setup(t, dir)
			c, err := OpenCheckpoint(path)
			if err == nil {
				c.Close()
				t.Fatalf("OpenCheckpoint succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	t.Run("empty folder", func(t *testing.T) {
		_, err := OpenCheckpoint(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "holds no .safetensors file") {
			t.Errorf("error = %v", err)
		}
	})
}

func TestOfficialFixture(t *testing.T) {
	path := fixture(t, "transformer.safetensors")
	f := mustOpen(t, Open, path)
	if n := len(f.Names()); n != 43 {
		t.Errorf("%d tensors, want 43", n)
	}
	info, ok := f.Info("double_blocks.0.img_attn.qkv.weight")
	if !ok || info.DType != F32 || !slices.Equal(info.Shape, []int{288, 96}) {
		t.Errorf("qkv info = %+v, %v", info, ok)
	}
	if md := f.Metadata(); md["format"] != "bfl" {
		t.Errorf("metadata = %v", md)
	}
	x, err := f.TensorAs("double_blocks.0.img_attn.qkv.weight", dtypes.BFloat16)
	if err != nil || x.Size() != 288*96 {
		t.Fatalf("TensorAs bf16: %v, %v", x, err)
	}
	raw, _ := f.Bytes("double_blocks.0.img_attn.qkv.weight")
	vals, _ := DecodeFloat32(info, raw)
	for i, c := range uint16s(tensorBytes(t, x)) {
		if c != Float32ToBF16(vals[i]) {
			t.Fatalf("element %d: bf16 %#x, want %#x", i, c, Float32ToBF16(vals[i]))
		}
	}
	vae := mustOpen(t, Open, fixture(t, "vae.safetensors"))
	nbt, err := vae.Tensor("bn.num_batches_tracked")
	if err != nil || nbt.DType() != dtypes.Int64 || nbt.Size() != 1 {
		t.Errorf("bn.num_batches_tracked = %v, %v", nbt, err)
	}
}
