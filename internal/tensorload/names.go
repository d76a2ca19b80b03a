package tensorload

import "strings"

// TrimFirstPrefix returns name without the first of prefixes it starts
// with (a repackaging prefix such as "diffusion_model."), or name itself.
func TrimFirstPrefix(name string, prefixes []string) string {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

// StoredNames indexes stored tensor names by their name in the layout: in
// LayoutOfficial without a repackaging prefix (TrimFirstPrefix of
// prefixes), in LayoutDiffusers as they are.
func StoredNames(names []string, layout Layout, prefixes []string) map[string]string {
	idx := make(map[string]string, len(names))
	for _, n := range names {
		key := n
		if layout == LayoutOfficial {
			key = TrimFirstPrefix(n, prefixes)
		}
		idx[key] = n
	}
	return idx
}
