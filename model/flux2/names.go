package flux2

import (
	"strconv"
	"strings"
)

// doubleBlockName is the official module path of double block i.
func doubleBlockName(i int) string { return "double_blocks." + strconv.Itoa(i) }

// singleBlockName is the official module path of single block i.
func singleBlockName(i int) string { return "single_blocks." + strconv.Itoa(i) }

// BlockOf returns the block a parameter (official name) belongs to
// ("double_blocks.3"), or "" for parameters outside the transformer blocks.
func BlockOf(name string) string {
	parts := strings.SplitN(name, ".", 3)
	if len(parts) == 3 && (parts[0] == "double_blocks" || parts[0] == "single_blocks") {
		return parts[0] + "." + parts[1]
	}
	return ""
}
