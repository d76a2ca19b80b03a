package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

// exportPrompt is the prompt every export test embeds.
const exportPrompt = "a red circle in flora style"

// exportRun is what one model computes on the export tests' inputs.
type exportRun struct {
	ids, mask [][]int32       // the prompt's tokens and attention mask
	emb       *tensors.Tensor // text embedding [1, L, ContextDim]
	x, tt     *tensors.Tensor // latent tokens [1, N, C] and time [1]
	guidance  *tensors.Tensor // [1]
	velocity  *tensors.Tensor // transformer output [1, N, C]
	latents   *tensors.Tensor // VAE input [1, 16, 4, 4]
	pixels    *tensors.Tensor // VAE decode [1, 3, 32, 32]
}

// runParts embeds exportPrompt, runs the transformer on fixed latents with
// that embedding, and decodes fixed latents.
func runParts(t *testing.T, c *Components) exportRun {
	t.Helper()
	var r exportRun
	var err error
	if r.ids, r.mask, err = c.Text.Tokenizer.EncodePrompts(c.Text.Template, []string{exportPrompt}, c.Text.MaxLen); err != nil {
		t.Fatal(err)
	}
	if r.emb, err = c.Text.Encoder.Encode(r.ids, r.mask); err != nil {
		t.Fatal(err)
	}
	const h, w = 4, 4
	cin := c.Transformer.Config.InChannels
	xs := make([]float32, h*w*cin)
	for i := range xs {
		xs[i] = float32((i*37)%101)/50 - 1
	}
	r.x = tensors.FromFlatDataAndDimensions(xs, 1, h*w, cin)
	r.tt = tensors.FromFlatDataAndDimensions([]float32{0.7}, 1)
	r.guidance = tensors.FromFlatDataAndDimensions([]float32{3.5}, 1)
	b, err := c.Transformer.NewBatch(r.x, r.emb, r.tt, r.guidance, flux2.TextIDs(1, len(r.ids[0])), flux2.ImageIDs(1, h, w, 0))
	if err != nil {
		t.Fatal(err)
	}
	if r.velocity, err = c.Transformer.Forward(b, dtypes.Float32); err != nil {
		t.Fatal(err)
	}
	// The VAE decodes the same values, as [B, C, H, W] latents.
	r.latents = tensors.FromFlatDataAndDimensions(xs, 1, cin, h, w)
	if r.pixels, err = c.VAE.Decode(r.latents); err != nil {
		t.Fatal(err)
	}
	return r
}

// checkSameRun asserts that an exported model computes what embedded:tiny
// does.
func checkSameRun(t *testing.T, what string, got, want exportRun) {
	t.Helper()
	testutil.CheckRelL2Tensors(t, what+" text embedding", got.emb, want.emb, 1e-6)
	testutil.CheckRelL2Tensors(t, what+" transformer velocity", got.velocity, want.velocity, 1e-6)
	testutil.CheckRelL2Tensors(t, what+" VAE decode", got.pixels, want.pixels, 1e-6)
}

// TestExportRoundTrip exports embedded:tiny in both layouts and loads each
// back with bundle.Load (and the diffusers transformer with flux2.Load):
// every part computes what the built-in model does.
func TestExportRoundTrip(t *testing.T) {
	backend := testutil.Backend(t)
	emb, err := LoadEmbedded(backend, "embedded:tiny", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	want := runParts(t, emb)
	for _, layout := range []string{ExportDiffusers, ExportOfficial} {
		t.Run(layout, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tiny-"+layout)
			path, err := Export(backend, "embedded:tiny", layout, dir, false)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Load(backend, Options{Path: path, DType: dtypes.Float32})
			if err != nil {
				t.Fatal(err)
			}
			if c.Variant.Name != EmbeddedTinyVariant().Name {
				t.Errorf("exported model loads as variant %q, want %q", c.Variant.Name, EmbeddedTinyVariant().Name)
			}
			got := runParts(t, c)
			checkSameRun(t, layout, got, want)
			if layout == ExportDiffusers {
				m, err := flux2.Load(backend, filepath.Join(dir, "transformer"), flux2.LoadOptions{DType: dtypes.Float32})
				if err != nil {
					t.Fatal(err)
				}
				c.Transformer = m
				testutil.CheckRelL2Tensors(t, "flux2.Load velocity", runParts(t, c).velocity, want.velocity, 1e-6)
				if os.Getenv("FLORA_UPDATE_EXPORT_FIXTURE") == "1" {
					writeExportFixture(t, dir, want)
				}
			}
		})
	}
}

// TestExportRefusesNonEmptyFolder: an existing non-empty folder is kept
// and named in the error unless overwrite; an empty one is used.
func TestExportRefusesNonEmptyFolder(t *testing.T) {
	backend := testutil.Backend(t)
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Export(backend, "embedded:tiny", ExportOfficial, dir, false)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("export into a non-empty folder: err = %v, want a refusal naming %s and the fix", err, dir)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("refused export touched the folder: %v", err)
	}
	if _, err := Export(backend, "embedded:tiny", ExportOfficial, dir, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keep); !os.IsNotExist(err) {
		t.Errorf("--overwrite kept the old folder's files (stat: %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ExportOfficialFile)); err != nil {
		t.Error(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(backend, "embedded:tiny", "comfy", empty, false); err == nil {
		t.Error("unknown layout accepted")
	}
	if _, err := Export(backend, "/some/model", ExportOfficial, empty, false); err == nil {
		t.Error("a model on disk accepted")
	}
}
