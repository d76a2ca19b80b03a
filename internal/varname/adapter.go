package varname

import (
	"fmt"
	"strings"
)

// Fields of LoRA adapter slot k on module M, whose variable is named
// "M.lora.k.field" (AdapterSlot).
const (
	// AdapterDown is A [rank, in].
	AdapterDown = "down"
	// AdapterUp is B [rows, rank], for the rows the slot adapts.
	AdapterUp = "up"
	// AdapterScale is the scalar (alpha/rank)·strength.
	AdapterScale = "scale"
	// AdapterAlpha is the scalar alpha·strength in float64.
	AdapterAlpha = "alpha"
	// AdapterOffset is frozen zeros [offset] whose length is the first row
	// of a slot that adapts a slice of a fused layer.
	AdapterOffset = "offset"
	// AdapterW1 is a LoKr slot's left Kronecker factor W1 [out/b, in/d]; a
	// LoKr slot has no down/up: ΔW = scale·kron(W1, W2).
	AdapterW1 = "w1"
	// AdapterW2 is a LoKr slot's full right factor W2 [b, d].
	AdapterW2 = "w2"
	// AdapterW2A is the left half [b, rank] of a low-rank LoKr W2 = W2A·W2B.
	AdapterW2A = "w2_a"
	// AdapterW2B is the right half [rank, d] of a low-rank LoKr W2.
	AdapterW2B = "w2_b"
)

// adapterInfix marks an adapter slot variable name.
const adapterInfix = ".lora."

// AdapterSlot returns the variable name of field of adapter slot k on
// module: "module.lora.k.field".
func AdapterSlot(module string, k int, field string) string {
	return fmt.Sprintf("%s%s%d.%s", module, adapterInfix, k, field)
}

// IsAdapter reports whether a variable name belongs to an adapter slot.
func IsAdapter(name string) bool { return strings.Contains(name, adapterInfix) }

// FirstAdapterSlotModule returns the module of a variable named for field
// down (LoRA) or w1 (LoKr) of slot 0 ("M.lora.0.down" → "M", true); ok is
// false for any other name.
func FirstAdapterSlotModule(name string) (module string, ok bool) {
	if m, ok := strings.CutSuffix(name, AdapterSlot("", 0, AdapterDown)); ok {
		return m, true
	}
	return strings.CutSuffix(name, AdapterSlot("", 0, AdapterW1))
}
