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
// down of slot 0 ("M.lora.0.down" → "M", true); ok is false for any other
// name.
func FirstAdapterSlotModule(name string) (module string, ok bool) {
	return strings.CutSuffix(name, AdapterSlot("", 0, AdapterDown))
}
