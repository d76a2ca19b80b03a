package flux2

import "strconv"

// doubleBlockName is the official module path of double block i.
func doubleBlockName(i int) string { return "double_blocks." + strconv.Itoa(i) }

// singleBlockName is the official module path of single block i.
func singleBlockName(i int) string { return "single_blocks." + strconv.Itoa(i) }
