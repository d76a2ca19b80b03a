package flux2

import (
	"path"
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

// blockLinearGroups name the kinds of linear layer inside the blocks, by
// official module path pattern.
var blockLinearGroups = []struct{ pattern, name string }{
	{"double_blocks.*.*_attn.qkv", "double qkv"}, {"double_blocks.*.*_attn.proj", "double proj"},
	{"double_blocks.*.*_mlp.*", "double mlp"}, {"single_blocks.*.linear1", "single linear1"},
	{"single_blocks.*.linear2", "single linear2"},
}

// LinearGroup names the kind of a block linear layer for reports ("double
// qkv", "double proj", "double mlp", "single linear1", "single linear2")
// from its official module path (without ".weight"); "" for every other
// module (embedders, modulations, final layer).
func LinearGroup(module string) string {
	for _, g := range blockLinearGroups {
		if ok, _ := path.Match(g.pattern, module); ok {
			return g.name
		}
	}
	return ""
}
