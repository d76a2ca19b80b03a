package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

// copyTree copies the files of src (recursively) into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every regular file under dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOutputIsInputRefused: every command that writes a file refuses an
// output that is one of its inputs — the same path, a path through "..", a
// symbolic link, a hard link, a model folder or a shard inside it — before
// any work, and leaves every input byte-identical (atomic writes would
// otherwise replace the input with the output).
func TestOutputIsInputRefused(t *testing.T) {
	dir := t.TempDir()
	lora := filepath.Join(dir, "lora.safetensors")
	model := filepath.Join(dir, "transformer.safetensors")
	for src, dst := range map[string]string{needFixture(t, "lora.safetensors"): lora, needFixture(t, "transformer.safetensors"): model} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, dst, b)
	}
	diff := filepath.Join(dir, "diffusers")
	copyTree(t, filepath.Join(diffusersTestdata, "flux2-tiny-dev"), diff)
	diffLoRA := filepath.Join(dir, "diff-lora.safetensors")
	copyTree(t, filepath.Join(diffusersTestdata, "flux2-tiny-dev-lora"), filepath.Join(dir, "difflora"))
	if err := os.Rename(filepath.Join(dir, "difflora", "lora.safetensors"), diffLoRA); err != nil {
		t.Fatal(err)
	}
	symLoRA := testutil.Symlink(t, lora, filepath.Join(dir, "sym.safetensors"))
	hardLoRA := testutil.Link(t, lora, filepath.Join(dir, "hard.safetensors"))
	hardModel := testutil.Link(t, model, filepath.Join(dir, "model-link.safetensors"))
	prompts := filepath.Join(dir, "prompts.png") // oddly named, but an input
	testutil.WriteFile(t, prompts, []byte("a fox\n"))
	shard := filepath.Join(diff, "transformer", "diffusion_pytorch_model-00001-of-00003.safetensors")
	before := snapshot(t, dir)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"lora", "convert", lora, "--to", "diffusers", "--out", lora}, lora + " is also an input"},
		{[]string{"lora", "convert", lora, "--to", "kohya", "--out", symLoRA}, symLoRA + " is the input " + lora + " under another name"},
		{[]string{"lora", "resize", lora, "--rank", "2", "--out", filepath.Join(diff, "..", "lora.safetensors")}, "is also an input"},
		{[]string{"lora", "resize", hardLoRA, "--rank", "2", "--out", lora}, lora + " is the input " + hardLoRA + " under another name"},
		{[]string{"lora", "merge", "--backend", "go", "--base", model, "--lora", lora, "--out", model}, model + " is also an input"},
		{[]string{"lora", "merge", "--backend", "go", "--base", model, "--lora", lora + ":0.5", "--out", hardLoRA}, hardLoRA + " is the input " + lora},
		{[]string{"lora", "merge", "--backend", "go", "--base", model, "--lora", lora, "--out", hardModel}, hardModel + " is the input " + model},
		{[]string{"lora", "merge", "--backend", "go", "--base", diff, "--lora", diffLoRA, "--out", diff}, diff + " is also an input"},
		{[]string{"lora", "merge", "--backend", "go", "--base", diff, "--lora", diffLoRA, "--out", filepath.Join(diff, "transformer")}, filepath.Join(diff, "transformer") + " is also an input"},
		{[]string{"lora", "merge", "--backend", "go", "--base", diff, "--lora", diffLoRA, "--out", shard}, shard + " is also an input"},
		{[]string{"model", "quantize", model, "--scheme", "int8", "--out", model}, model + " is also an input"},
		{[]string{"model", "quantize", model, "--scheme", "nf4", "--out", hardModel}, hardModel + " is the input " + model},
		{[]string{"model", "quantize", diff, "--scheme", "int8", "--out", shard}, shard + " is also an input"},
		{[]string{"sample", "--model", "embedded:tiny", "--prompts-file", prompts, "--out", prompts}, prompts + " is also an input"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:2], " ")+" "+filepath.Base(tc.args[len(tc.args)-1]), func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "writing there would replace the input, choose another output path") {
				t.Errorf("exit %d (want 2)\nstdout: %s\nstderr: %s\nwant %q", code, out, errs, tc.want)
			}
			if strings.Contains(errs, "loaded") || strings.Contains(out, "wrote") {
				t.Errorf("work started before the refusal:\n%s%s", out, errs)
			}
		})
	}
	after := snapshot(t, dir)
	if len(after) != len(before) {
		t.Errorf("%d files after the refusals, %d before", len(after), len(before))
	}
	for p, b := range before {
		if !bytes.Equal(after[p], b) {
			t.Errorf("%s changed", p)
		}
	}
	// A different output passes the check (convert writes it).
	other := filepath.Join(dir, "out", "converted.safetensors")
	if code, _, errs := runCLI(t, "lora", "convert", symLoRA, "--to", "diffusers", "--out", other); code != 0 {
		t.Errorf("convert to a new file: exit %d: %s", code, errs)
	}
}

// TestSpecialFilesRefused: a named pipe given (or found) where a file is
// read — checkpoint, adapter, job config, prompts file, image, caption,
// metadata.jsonl — and a device like /dev/zero are refused at once with an
// error saying what they are (they used to block forever or read without
// end); an oversized job config is refused naming the limit; a symbolic
// link loop is named as such, not "does not exist".
func TestSpecialFilesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loop := filepath.Join(dir, "loop")
	testutil.Symlink(t, loop, loop)
	bigYAML := testutil.WriteFile(t, filepath.Join(dir, "big.yaml"), []byte("name: x\n"))
	if err := os.Truncate(bigYAML, 2<<20); err != nil { // sparse: cheap
		t.Fatal(err)
	}
	pngData := datatest.PNG(t, datatest.Pattern(20, 20))
	withImage := func(sub string) string {
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(d, "a.png"), pngData)
		return d
	}
	imgFIFO := withImage("img-fifo")
	fifo("img-fifo/b.png")
	capFIFO := withImage("caption-fifo")
	fifo("caption-fifo/a.txt")
	metaFIFO := withImage("meta-fifo")
	fifo("meta-fifo/metadata.jsonl")
	const pipe = "is a named pipe (FIFO), not a regular file"
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"model", "inspect", fifo("m.safetensors")}, 1, []string{"m.safetensors " + pipe}},
		{[]string{"model", "inspect", fifo("shards/m.safetensors")}, 1, []string{"m.safetensors " + pipe}},
		{[]string{"lora", "inspect", fifo("l.safetensors")}, 1, []string{"l.safetensors " + pipe}},
		{[]string{"config", "check", fifo("job.yaml")}, 1, []string{"job.yaml " + pipe}},
		{[]string{"config", "check", "/dev/zero"}, 1, []string{"/dev/zero is a character device, not a regular file"}},
		{[]string{"config", "check", bigYAML}, 1, []string{bigYAML + ": larger than 1 MiB, the limit for a job config"}},
		{[]string{"sample", "--model", "embedded:tiny", "--prompts-file", fifo("prompts.txt")}, 1, []string{"prompts.txt " + pipe}},
		{[]string{"data", "check", imgFIFO, "--resolution", "16", "--min-side", "16"}, 1, []string{"b.png: error: unreadable", pipe}},
		{[]string{"data", "check", capFIFO, "--resolution", "16", "--min-side", "16"}, 1, []string{"a.txt: error: bad caption", pipe}},
		{[]string{"data", "check", metaFIFO, "--resolution", "16", "--min-side", "16"}, 1, []string{"metadata.jsonl: error: bad caption", pipe}},
		{[]string{"model", "inspect", loop}, 1, []string{loop + ": symbolic link loop"}},
		{[]string{"lora", "inspect", loop}, 1, []string{loop + ": symbolic link loop"}},
		{[]string{"data", "check", loop}, 1, []string{loop + ": symbolic link loop"}},
		{[]string{"sample", "--backend", "go", "--model", loop, "--prompt", "x"}, 1, []string{"model path: " + loop + ": symbolic link loop"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:2], " ")+" "+filepath.Base(tc.args[2]), func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", w, out, errs)
				}
			}
			if strings.Contains(out+errs, "does not exist") {
				t.Errorf("reported as missing:\n%s", errs)
			}
		})
	}
}

// TestSampleOutImageExtension: --out with an image extension other than
// .png is refused before any work (it used to become a folder named
// out.jpg); the message offers the .png name.
func TestSampleOutImageExtension(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.jpg", "out.JPEG", "out.webp"} {
		out := filepath.Join(dir, name)
		code, _, errs := runCLI(t, "sample", "--model", "embedded:tiny", "--prompt", "x", "--out", out)
		want := "--out " + out + ": sample writes PNG images; for one image name it " + strings.TrimSuffix(out, filepath.Ext(out)) + ".png"
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d\n%s\nwant %q", name, code, errs, want)
		}
		if _, err := os.Lstat(out); err == nil {
			t.Errorf("%s was created", out)
		}
	}
}

// TestReadPrompts: a prompts file may have lines far longer than 64 KiB
// (the old line scanner's limit), CRLF endings and comment lines; a file
// above the limit is refused naming it and the limit.
func TestReadPrompts(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("a very long prompt ", 6000) // 114 KB
	long = strings.TrimSpace(long)
	path := testutil.WriteFile(t, filepath.Join(dir, "prompts.txt"), []byte("# comment\r\nfirst\r\n\r\n"+long+"\n  last  "))
	got, err := readPrompts(&sampleFlags{promptsFile: path, prompts: []string{"flag"}, count: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"flag", "first", long, "last"}
	if len(got) != len(want) {
		t.Fatalf("%d prompts, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("prompt %d: %d bytes %q..., want %d bytes", i, len(got[i]), shorten(got[i], 20), len(want[i]))
		}
	}
	big := testutil.WriteFile(t, filepath.Join(dir, "big.txt"), []byte("x\n"))
	if err := os.Truncate(big, maxPromptsFileBytes+1); err != nil {
		t.Fatal(err)
	}
	_, err = readPrompts(&sampleFlags{promptsFile: big, count: 1})
	if want := big + ": larger than 16 MiB, the limit for a prompts file"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}
