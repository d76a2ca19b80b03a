package flux2

import (
	"strconv"
	"strings"
)

// doubleBlockName is the official module path of double block i.
func doubleBlockName(i int) string { return "double_blocks." + strconv.Itoa(i) }

// singleBlockName is the official module path of single block i.
func singleBlockName(i int) string { return "single_blocks." + strconv.Itoa(i) }

// blockPosition returns the forward position of the block a name (a
// parameter or a stage prefix) belongs to: double block i is at i, single
// block i at Depth+i; ok is false outside the blocks.
func (c Config) blockPosition(name string) (pos int, ok bool) {
	block := BlockOf(name)
	if block == "" {
		return 0, false
	}
	kind, index, _ := strings.Cut(block, ".")
	i, err := strconv.Atoi(index)
	if err != nil {
		return 0, false
	}
	if kind == "single_blocks" {
		i += c.Depth
	}
	return i, true
}

// BlockOf returns the block a parameter (official name) belongs to
// ("double_blocks.3"), or "" for parameters outside the transformer blocks.
func BlockOf(name string) string {
	parts := strings.SplitN(name, ".", 3)
	if len(parts) == 3 && (parts[0] == "double_blocks" || parts[0] == "single_blocks") {
		return parts[0] + "." + parts[1]
	}
	return ""
}
