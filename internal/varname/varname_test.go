package varname

import "testing"

// TestAdapterSlot checks the adapter slot name scheme and its inverses.
func TestAdapterSlot(t *testing.T) {
	name := AdapterSlot("double_blocks.0.img_attn.qkv", 2, AdapterUp)
	if name != "double_blocks.0.img_attn.qkv.lora.2.up" {
		t.Errorf("AdapterSlot = %q", name)
	}
	if !IsAdapter(name) || IsAdapter("double_blocks.0.img_attn.qkv.weight"+QuantNF4) {
		t.Error("IsAdapter misclassifies")
	}
	for _, tc := range []struct {
		name, module string
		ok           bool
	}{
		{"a.b.lora.0.down", "a.b", true},
		{"a.b.lora.1.down", "", false},
		{"a.b.lora.0.up", "", false},
		{"a.b.weight", "", false},
	} {
		if m, ok := FirstAdapterSlotModule(tc.name); ok != tc.ok || ok && m != tc.module {
			t.Errorf("FirstAdapterSlotModule(%q) = %q, %v; want %q, %v", tc.name, m, ok, tc.module, tc.ok)
		}
	}
}
