package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/weights/weightstest"

	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/sample"
)

// tinyEmbeddings writes the fixture's two text contexts as an embeddings file.
func tinyEmbeddings(t *testing.T) string {
	t.Helper()
	io := weightstest.Open(t, filepath.Join(testutil.ReferenceDir(t), "transformer_io.safetensors"))
	ctx, err := io.TensorAs("ctx", dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	td, err := weights.FromTensor("ctx", ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "emb.safetensors")
	if err := weights.WriteFile(path, []weights.TensorData{td}, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSampleTinyFixture: flora sample on the tiny official model writes PNGs
// whose text chunks carry the settings, and the same seed twice gives
// byte-identical images.
func TestSampleTinyFixture(t *testing.T) {
	emb := tinyEmbeddings(t)
	model := filepath.Join(testutil.ReferenceDir(t), "transformer.safetensors")
	vaePath := filepath.Join(testutil.ReferenceDir(t), "vae.safetensors")
	var outs [2][]byte
	for i := range outs {
		dir := t.TempDir()
		code, stdout, stderr := runCLI(t, "sample", "--backend", "go", "--model", model, "--vae", vaePath, "--embeddings", emb,
			"--prompt", "a red fox", "--prompt", "a blue bird", "--steps", "3", "--seed", "7", "--width", "64", "--height", "64",
			"--out", dir, "--grid")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "step 3/3") {
			t.Errorf("no per-step progress:\n%s", stderr)
		}
		files := strings.Fields(stdout)
		if len(files) != 3 || filepath.Base(files[2]) != "grid.png" {
			t.Fatalf("wrote %v", files)
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = data
		chunks, err := sample.ReadPNGText(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range chunks {
			got[c.Key] = c.Value
		}
		for k, want := range map[string]string{"prompt": "a red fox", "seed": "7", "steps": "3", "guidance": "3.5", "size": "64x64", "cfg": "false"} {
			if got[k] != want {
				t.Errorf("text chunk %s = %q, want %q", k, got[k], want)
			}
		}
		if !strings.Contains(got["model"], "tiny") {
			t.Errorf("model chunk %q", got["model"])
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("same seed and settings gave different PNG bytes")
	}
}

// TestSampleRefusesWrongVAE: a transformer file passed as the VAE is refused
// with a message naming the file.
func TestSampleRefusesWrongVAE(t *testing.T) {
	emb := tinyEmbeddings(t)
	model := filepath.Join(testutil.ReferenceDir(t), "transformer.safetensors")
	code, _, stderr := runCLI(t, "sample", "--backend", "go", "--model", model, "--vae", model, "--embeddings", emb,
		"--steps", "1", "--width", "64", "--height", "64", "--out", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "transformer.safetensors") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "sample", "--model", model)
	if code != 2 || !strings.Contains(stderr, "give a prompt") {
		t.Errorf("missing prompt: exit %d\n%s", code, stderr)
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// TestSamplePlainPrompt: `flora sample --prompt` on the embedded model runs
// the prompt through the text encoder (and releases it before the
// transformer loads): the image equals the one sampled from the same
// prompt's embedding passed with --embeddings, for plain and CFG sampling;
// a quantized text encoder gives another image; bad --quantize values are
// usage errors.
func TestSamplePlainPrompt(t *testing.T) {
	const prompt = "a lighthouse in the flrstyle style"
	c, err := bundle.LoadEmbedded(testutil.Backend(t), "embedded:tiny", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := c.Text.Encode([]string{prompt})
	if err != nil {
		t.Fatal(err)
	}
	neg, err := c.Text.Encode([]string{"blurry"})
	if err != nil {
		t.Fatal(err)
	}
	c.Text.Release()
	var tds []weights.TensorData
	for name, v := range map[string]*tensors.Tensor{"ctx": ctx, "negative": neg} {
		td, err := weights.FromTensor(name, v)
		if err != nil {
			t.Fatal(err)
		}
		tds = append(tds, td)
	}
	emb := filepath.Join(t.TempDir(), "emb.safetensors")
	if err := weights.WriteFile(emb, tds, nil); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) image.Image {
		t.Helper()
		out := filepath.Join(t.TempDir(), "x.png")
		args := append([]string{"sample", "--backend", "go", "--model", "embedded:tiny", "--prompt", prompt, "--steps", "2",
			"--width", "64", "--height", "80", "--seed", "3", "--out", out}, extra...)
		code, _, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", extra, code, stderr)
		}
		// The embedded model's autoencoder scales by 8, not 16: the image
		// is the size asked for and printed (it once printed 64x64 and
		// wrote 32x32).
		img := testutil.DecodePNGFile(t, out)
		if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 80 || !strings.Contains(stderr, "64x80, 2 steps") {
			t.Fatalf("%v: wrote %dx%d, printed:\n%s", extra, b.Dx(), b.Dy(), stderr)
		}
		return img
	}
	for _, cfg := range [][]string{{"--cfg", "off"}, {"--cfg", "on", "--negative", "blurry", "--guidance", "2"}} {
		plain := run(cfg...)
		fromEmb := run(append(cfg, "--embeddings", emb)...)
		if !samePixels(plain, fromEmb) {
			t.Errorf("%v: the plain prompt gave another image than its embedding", cfg)
		}
		if samePixels(plain, run(append(cfg, "--text-encoder-quantize", "nf4")...)) {
			t.Errorf("%v: an NF4 text encoder gave exactly the float encoder's image", cfg)
		}
	}
	for _, bad := range [][]string{{"--quantize", "int3"}, {"--text-encoder-quantize", "q2"}} {
		args := append([]string{"sample", "--model", "embedded:tiny", "--prompt", "x", "--out", filepath.Join(t.TempDir(), "y.png")}, bad...)
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// TestSampleReferences: flora sample --ref a.png --ref b.png (with a LoRA)
// records each reference's SHA-256 and name in the PNG, and the references
// change the image; bad references are refused before any model loads.
func TestSampleReferences(t *testing.T) {
	emb := tinyEmbeddings(t)
	model := needFixture(t, "transformer.safetensors")
	vaePath := needFixture(t, "vae.safetensors")
	lora := needFixture(t, "lora.safetensors")
	refDir := filepath.Join("..", "..", "testdata", "diffusers", "flux2-tiny-refs")
	ref0, ref1 := filepath.Join(refDir, "ref0.png"), filepath.Join(refDir, "ref1.png")
	base := []string{"sample", "--backend", "go", "--model", model, "--vae", vaePath, "--embeddings", emb, "--prompt", "a red fox",
		"--steps", "2", "--seed", "7", "--width", "64", "--height", "64", "--lora", lora + ":0.5"}
	run := func(extra ...string) (image.Image, map[string]string) {
		t.Helper()
		code, stdout, stderr := runCLI(t, append(append(append([]string{}, base...), extra...), "--out", t.TempDir())...)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		out := strings.Fields(stdout)[0]
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		chunks, err := sample.ReadPNGText(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range chunks {
			got[c.Key] = c.Value
		}
		return testutil.DecodePNGFile(t, out), got
	}
	withRefs, text := run("--ref", ref0, "--ref", ref1)
	var want []string
	for _, p := range []string{ref0, ref1} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%x  %s", sha256.Sum256(data), filepath.Base(p)))
	}
	if got := text["references"]; got != strings.Join(want, "\n") {
		t.Errorf("references chunk %q, want %q", got, strings.Join(want, "\n"))
	}
	if !strings.Contains(text["loras"], "lora.safetensors:0.5") {
		t.Errorf("loras chunk %q", text["loras"])
	}
	plain, text := run()
	if _, ok := text["references"]; ok {
		t.Error("references chunk written without references")
	}
	if samePixels(plain, withRefs) {
		t.Error("the references did not change the image")
	}

	small := filepath.Join(t.TempDir(), "small.png")
	f, err := os.Create(small)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, image.NewRGBA(image.Rect(0, 0, 32, 64))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	outDir := t.TempDir()
	clash := filepath.Join(outDir, "00-seed7.png")
	if err := os.WriteFile(clash, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--ref", filepath.Join(refDir, "missing.png"), "--out", outDir}, 2, "--ref " + filepath.Join(refDir, "missing.png") + " (reference 0)"},
		{[]string{"--ref", refDir, "--out", outDir}, 2, "is a folder; give an image file"},
		{[]string{"--ref", ref0, "--out", ref0, "--count", "1"}, 2, "is also an input"},
		{[]string{"--ref", clash, "--out", outDir}, 2, "with the name of an output image"},
		{[]string{"--ref", ref0, "--ref", emb, "--out", outDir}, 1, "ref " + emb + " (reference 1)"},
		{[]string{"--ref", small, "--out", outDir}, 1, "reference 0 is 32x64: both sides must be at least 64 pixels"},
	} {
		code, _, stderr := runCLI(t, append(append([]string{}, base...), tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "loaded FLUX.2") {
			t.Errorf("%v: exit %d (want %d), stderr:\n%s\nwant %q", tc.args, code, tc.code, stderr, tc.want)
		}
	}
}
