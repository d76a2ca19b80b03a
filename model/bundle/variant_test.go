package bundle

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

// TestCheckVariant: unknown variant names are refused for every model, and
// the built-in model refuses any variant but its own (klein-99b was once
// silently ignored for embedded:tiny).
func TestCheckVariant(t *testing.T) {
	tests := []struct {
		path, variant, want string
	}{
		{"embedded:tiny", "", ""},
		{"embedded:tiny", "auto", ""},
		{"embedded:tiny", "embedded-tiny", ""},
		{"embedded:tiny", "klein-99b", `variant "klein-99b" does not apply to embedded:tiny, which is the embedded-tiny model; use auto`},
		{"embedded:tiny", "klein-4b", `variant "klein-4b" does not apply to embedded:tiny`},
		{"embedded:tiny", "tiny", `variant "tiny" does not apply`},
		{"m.safetensors", "klein-4b", ""},
		{"m.safetensors", "auto", ""},
		{"m.safetensors", "klein-99b", `unknown FLUX.2 variant "klein-99b" (known: dev, klein-4b`},
	}
	for _, tc := range tests {
		err := CheckVariant(tc.path, tc.variant)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckVariant(%q, %q) = %v, want %q", tc.path, tc.variant, err, tc.want)
		}
		// Load refuses before loading anything.
		if tc.want != "" {
			if _, err := Load(nil, Options{Path: tc.path, Variant: tc.variant}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%q, variant %q) = %v, want %q", tc.path, tc.variant, err, tc.want)
			}
		}
	}
}

// TestMissingTextEncoderNamesTheSetting: the message names the flag or job
// key the caller gives paths with.
func TestMissingTextEncoderNamesTheSetting(t *testing.T) {
	model := testutil.ReferenceFile(t, "transformer.safetensors")
	for setting, want := range map[string]string{"": "set model.text_encoder (", "--text-encoder": "give --text-encoder FOLDER ("} {
		_, err := Load(testutil.Backend(t), Options{Path: model, SkipTransformer: true, SkipVAE: true, TextEncoderSetting: setting})
		if err == nil || !strings.Contains(err.Error(), "no text encoder found next to "+model+": "+want) {
			t.Errorf("setting %q: %v, want %q", setting, err, want)
		}
	}
	alone := filepath.Join(t.TempDir(), "flux2-tiny.safetensors") // no ae.safetensors next to it
	testutil.Symlink(t, model, alone)
	for setting, want := range map[string]string{"": "set model.vae (", "--vae": "give --vae FILE ("} {
		_, err := Load(testutil.Backend(t), Options{Path: alone, SkipTransformer: true, VAESetting: setting})
		if err == nil || !strings.Contains(err.Error(), "no autoencoder found next to") || !strings.Contains(err.Error(), want) {
			t.Errorf("vae setting %q: %v, want %q", setting, err, want)
		}
	}
}
