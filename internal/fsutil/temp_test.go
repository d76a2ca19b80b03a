package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestTempTarget(t *testing.T) {
	tests := []struct {
		name, target string
		ok           bool
	}{
		{".step-000004.tmp-123456", "step-000004", true},
		{".tiny.safetensors.tmp-42", "tiny.safetensors", true},
		{".a.tmp-1.tmp-2", "a.tmp-1", true},
		{"step-000004", "", false},
		{"notes.tmp-1", "", false},     // no leading dot: a user's file
		{".notes.tmp-x", "", false},    // not digits
		{".notes.tmp-", "", false},     // no digits
		{".tmp-1", "", false},          // no target name
		{".hidden", "", false},         //
		{".write-test-123", "", false}, // old probe name is not ours to judge
	}
	for _, tc := range tests {
		got, ok := TempTarget(tc.name)
		if got != tc.target || ok != tc.ok {
			t.Errorf("TempTarget(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.target, tc.ok)
		}
	}
	// The writers' names are recognised.
	dir := t.TempDir()
	f, err := CreateAtomic(filepath.Join(dir, "x.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if got, ok := TempTarget(filepath.Base(f.Name())); !ok || got != "x.safetensors" {
		t.Errorf("CreateAtomic's name %q not recognised", f.Name())
	}
	d, err := MkdirTempFor(filepath.Join(dir, "step-000001"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := TempTarget(filepath.Base(d)); !ok || got != "step-000001" {
		t.Errorf("MkdirTempFor's name %q not recognised", d)
	}
	if got, ok := TempTarget(filepath.Base(TempNameFor(d))); !ok || got != filepath.Base(d) {
		t.Errorf("TempNameFor's name not recognised: %q", got)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".a.safetensors.tmp-1", "keep.txt", ".keep.tmp-x"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	os.MkdirAll(filepath.Join(dir, ".step-000002.tmp-9", "sub"), 0o755)
	removed, err := RemoveStaleTemps(dir)
	if err != nil || len(removed) != 2 {
		t.Fatalf("removed %v, %v", removed, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || entries[0].Name() != ".keep.tmp-x" || entries[1].Name() != "keep.txt" {
		t.Errorf("left %v", entries)
	}
	if removed, err := RemoveStaleTemps(filepath.Join(dir, "missing")); err != nil || removed != nil {
		t.Errorf("missing folder: %v %v", removed, err)
	}
}

func TestWithin(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(data, "sub"), 0o755)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(data, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	tests := []struct {
		path, dir string
		want      bool
	}{
		{data, data, true},
		{filepath.Join(data, "sub", "run"), data, true},        // not created yet
		{filepath.Join(link, "run", "deeper"), data, true},     // through a link
		{filepath.Join(data, "..", "data", "run"), link, true}, // .. and a link
		{filepath.Join(dir, "data-run"), data, false},          // a sibling sharing the prefix
		{filepath.Join(dir, "runs"), data, false},
		{dir, data, false},
	}
	for _, tc := range tests {
		if got, err := Within(tc.path, tc.dir); err != nil || got != tc.want {
			t.Errorf("Within(%s, %s) = %v, %v; want %v", tc.path, tc.dir, got, err, tc.want)
		}
	}
}

func TestFreeSpace(t *testing.T) {
	free, err := FreeSpace(t.TempDir())
	if err != nil {
		t.Skip("free space unknown here:", err)
	}
	if free <= 0 {
		t.Errorf("free space %d", free)
	}
	if HumanBytes(1536) != "1.5 KiB" || HumanBytes(1000) != "1000 B" {
		t.Errorf("HumanBytes: %s %s", HumanBytes(1536), HumanBytes(1000))
	}
}

// TestWriteFolderAtomic: a complete write replaces the old folder whole; a
// failed write leaves the old folder as it was and no temporary folder.
func TestWriteFolderAtomic(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	write := func(content string) func(string) error {
		return func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "f"), []byte(content), 0o644) }
	}
	for _, content := range []string{"one", "two"} {
		if err := WriteFolderAtomic(dir, write(content)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(got) != content {
			t.Fatalf("after writing %q: %q, %v", content, got, err)
		}
	}
	failed := errors.New("disk full")
	err := WriteFolderAtomic(dir, func(tmp string) error {
		if err := write("three")(tmp); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("got %v, want the write's error", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); string(got) != "two" {
		t.Errorf("a failed write changed the folder: %q", got)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
