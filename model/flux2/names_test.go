package flux2

import "testing"

// TestLinearGroup: every block linear layer of the tiny config has its
// group, and no layer outside the blocks has one.
func TestLinearGroup(t *testing.T) {
	tests := map[string]string{
		"double_blocks.0.img_attn.qkv": "double qkv", "double_blocks.1.txt_attn.proj": "double proj",
		"double_blocks.0.txt_mlp.2": "double mlp", "single_blocks.3.linear1": "single linear1", "single_blocks.0.linear2": "single linear2",
		"img_in": "", "double_stream_modulation_img.lin": "", "final_layer.linear": "", "double_blocks.0.img_attn.norm.query_norm": "",
	}
	for module, want := range tests {
		if got := LinearGroup(module); got != want {
			t.Errorf("LinearGroup(%q) = %q, want %q", module, got, want)
		}
	}
}
