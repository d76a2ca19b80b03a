package lora

import (
	"maps"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// TestCarryMetadata: a rewrite keeps every source key, replaces or removes
// the changed ones (keeping the source's spelling of an equal number), drops
// tensor-byte fingerprints, adds nothing else and leaves src alone.
func TestCarryMetadata(t *testing.T) {
	tests := []struct {
		name         string
		src, changed map[string]string
		want         map[string]string
	}{
		{"kept", map[string]string{"ss_steps": "1200", "modelspec.title": "x"}, nil,
			map[string]string{"ss_steps": "1200", "modelspec.title": "x"}},
		{"replaced, added, removed", map[string]string{"rank": "4", "lora_adapter_metadata": "{}"},
			map[string]string{"rank": "2", "flora.format": "comfy", "lora_adapter_metadata": ""},
			map[string]string{"rank": "2", "flora.format": "comfy"}},
		{"same number keeps its spelling", map[string]string{"alpha": "8.0", "ss_network_dim": "4"},
			map[string]string{"alpha": "8", "ss_network_dim": "4"},
			map[string]string{"alpha": "8.0", "ss_network_dim": "4"}},
		{"fingerprints dropped", map[string]string{"sshs_model_hash": "ab", "sshs_legacy_hash": "cd", "modelspec.hash_sha256": "ef", "ss_epoch": "3"}, nil,
			map[string]string{"ss_epoch": "3"}},
		{"nil source", nil, map[string]string{"format": "pt"}, map[string]string{"format": "pt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := maps.Clone(tc.src)
			got := CarryMetadata(tc.src, tc.changed)
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if !maps.Equal(tc.src, before) {
				t.Errorf("src modified: %v, was %v", tc.src, before)
			}
		})
	}
}

// TestMergedMetadata: the merged checkpoint keeps the base's header (the
// official file's "bfl" tag and config) and lists the adapters, after any
// merged before.
func TestMergedMetadata(t *testing.T) {
	tests := []struct {
		base, want map[string]string
	}{
		{map[string]string{"format": "bfl", "config": "{}"}, map[string]string{"format": "bfl", "config": "{}", "flora.merged_loras": "a.safetensors:0.5, b.safetensors"}},
		{nil, map[string]string{"format": "pt", "flora.merged_loras": "a.safetensors:0.5, b.safetensors"}},
		{map[string]string{"format": "pt", "flora.merged_loras": "old.safetensors"},
			map[string]string{"format": "pt", "flora.merged_loras": "old.safetensors, a.safetensors:0.5, b.safetensors"}},
	}
	for _, tc := range tests {
		if got := MergedMetadata(tc.base, []string{"a.safetensors:0.5", "b.safetensors"}); !maps.Equal(got, tc.want) {
			t.Errorf("base %v: got %v, want %v", tc.base, got, tc.want)
		}
	}
}

// TestRewriteMetaIgnoresWrongVariant: a header naming a base the adapter
// does not fit (a tiny adapter tagged as FLUX.2 dev) gives no variant, so
// the layer widths come from the adapter; one it fits (the tiny variant's
// tag) is used; the file's dtype and naming are kept.
func TestRewriteMetaIgnoresWrongVariant(t *testing.T) {
	src := filepath.Join(testutil.ReferenceDir(t), "lora.safetensors")
	a, from, _, err := Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tag, want string }{{"flux2", ""}, {"", ""}, {"flux2_tiny", "tiny"}} {
		a.Metadata = map[string]string{"ss_base_model_version": tc.tag}
		meta, err := RewriteMeta(src, a, from)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Variant.Name != tc.want || meta.DType != weights.F32 || meta.SourceFormat != FormatComfy {
			t.Errorf("tag %q: variant %q dtype %s from %s, want %q F32 comfy", tc.tag, meta.Variant.Name, meta.DType, meta.SourceFormat, tc.want)
		}
	}
	dev, err := flux2.VariantByName("dev")
	if err != nil {
		t.Fatal(err)
	}
	if a.Validate(dev.Config) == nil {
		t.Fatal("the tiny adapter fits dev; the test is not meaningful")
	}
}
