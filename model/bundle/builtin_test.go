package bundle

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/vae"
)

// TestBuiltinModels: every built-in model loads with its own variant (the
// nano ones sample with classifier-free guidance: no guidance embedder),
// nano-init starts with zero modulations and output projection
// (adaLN-Zero) and otherwise the seeded random weights, and an unknown name
// lists the available ones.
func TestBuiltinModels(t *testing.T) {
	be := testutil.Backend(t)
	for _, b := range BuiltinModels() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Name == "nano" {
				if _, err := nanoAssets.ReadFile(nanoTransformerFile); err != nil {
					t.Skip("this checkout has no pretrained nano weights yet")
				}
			}
			c, err := LoadEmbedded(be, EmbeddedPrefix+b.Name, dtypes.Float32, quant.None)
			if err != nil {
				t.Fatal(err)
			}
			if c.Variant.Name != b.Variant().Name || c.Transformer.Config != b.Variant().Config {
				t.Errorf("variant %s %+v, want %s", c.Variant.Name, c.Transformer.Config, b.Variant().Name)
			}
			if v, err := InspectVariant(EmbeddedPrefix+b.Name, ""); err != nil || v.Name != c.Variant.Name {
				t.Errorf("InspectVariant: %s, %v; want %s", v.Name, err, c.Variant.Name)
			}
			if got, want := c.Variant.UsesCFG(), strings.HasPrefix(b.Name, "nano"); got != want {
				t.Errorf("UsesCFG %v, want %v", got, want)
			}
			if b.Name != "nano-init" {
				return
			}
			for _, name := range c.Transformer.Config.ParamNames() {
				v, err := c.Transformer.Variable(name).Value()
				if err != nil {
					t.Fatal(err)
				}
				vals := tensors.MustCopyFlatData[float32](v)
				zero := strings.Contains(name, "modulation") || name == "final_layer.linear.weight"
				want := flux2.RandomWeight(name, c.Transformer.Config.ParamShapes()[name], nanoInitSeed)
				for i := range vals {
					if zero && vals[i] != 0 || !zero && vals[i] != want[i] {
						t.Fatalf("%s[%d] = %g, want %s", name, i, vals[i], map[bool]string{true: "0", false: "the seeded random value"}[zero])
					}
				}
			}
		})
	}
	_, err := LoadEmbedded(be, "embedded:huge", dtypes.Float32, quant.None)
	if err == nil || !strings.Contains(err.Error(), "embedded:nano-init") {
		t.Errorf("unknown built-in: %v, want the list of available ones", err)
	}
}

// TestBuiltinVAEOverride: model.vae replaces a built-in model's
// autoencoder (an autoencoder trained for it) and its cache identity.
func TestBuiltinVAEOverride(t *testing.T) {
	be := testutil.Backend(t)
	dir := t.TempDir()
	c, err := LoadEmbedded(be, "embedded:tiny", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	c.Text.Release()
	path := dir + "/ae.safetensors"
	cfg, err := c.VAE.Config.DiffusersConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VAE.SaveCheckpoint(path, vae.LayoutOfficial, map[string]string{VAEConfigKey: string(cfg)}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(be, Options{Path: "embedded:tiny", VAE: path})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.VAEID, "vae@") || got.VAEID == c.VAEID {
		t.Errorf("VAE id %q, want the file's fingerprint", got.VAEID)
	}
}

// TestBuiltinArchitectureFromFile: a transformer file of a built-in
// architecture (what full training of embedded:nano-init exports) loads as
// that built-in variant, with the built-in text encoder when none lies next
// to it.
func TestBuiltinArchitectureFromFile(t *testing.T) {
	be := testutil.Backend(t)
	c, err := LoadEmbedded(be, "embedded:nano-init", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model, ae := dir+"/nano.safetensors", dir+"/ae.safetensors"
	if err := c.Transformer.SaveCheckpoint(model, flux2.LayoutOfficial, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.VAE.Config.DiffusersConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VAE.SaveCheckpoint(ae, vae.LayoutOfficial, map[string]string{VAEConfigKey: string(cfg)}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(be, Options{Path: model, VAE: ae})
	if err != nil {
		t.Fatal(err)
	}
	if got.Variant.Name != "embedded-nano" || got.Text == nil || !got.Variant.UsesCFG() {
		t.Errorf("variant %s (CFG %v), text encoder %v; want embedded-nano with the built-in encoder", got.Variant.Name, got.Variant.UsesCFG(), got.Text != nil)
	}
	want, err := c.Text.Encode([]string{"a red circle"})
	if err != nil {
		t.Fatal(err)
	}
	have, err := got.Text.Encode([]string{"a red circle"})
	if err != nil {
		t.Fatal(err)
	}
	if d := testutil.RelL2(tensors.MustCopyFlatData[float32](have), tensors.MustCopyFlatData[float32](want)); d != 0 {
		t.Errorf("prompt embeddings differ from the built-in encoder's (rel %g)", d)
	}
}
