package tensorload

import "fmt"

// Layout is a checkpoint naming scheme of a FLUX.2 model part (transformer
// or autoencoder): the official one of Black Forest Labs' single files or
// diffusers' folder naming.
type Layout int

const (
	// LayoutOfficial is Black Forest Labs' naming (flux2-dev.safetensors,
	// ae.safetensors).
	LayoutOfficial Layout = iota
	// LayoutDiffusers is the naming of a diffusers model folder.
	LayoutDiffusers
)

// String names the layout: "official" or "diffusers".
func (l Layout) String() string {
	if l == LayoutDiffusers {
		return "diffusers"
	}
	return "official"
}

// LayoutRule tells a model part's two naming schemes apart by their tensor
// names.
type LayoutRule struct {
	// Part names the model part in errors ("FLUX.2 autoencoder").
	Part string
	// Prefixes are repackaging prefixes stripped before matching.
	Prefixes []string
	// Official and Diffusers recognise a (prefix-stripped) name of each
	// scheme; names neither recognises do not count.
	Official, Diffusers func(name string) bool
	// OfficialHint and DiffusersHint show each scheme's names in the error
	// for a source with neither ("double_blocks.*").
	OfficialHint, DiffusersHint string
}

// Detect tells which naming scheme the tensor names use: the one that
// recognises some names when the other recognises none.
func (r LayoutRule) Detect(names []string) (Layout, error) {
	var official, diffusers int
	for _, n := range names {
		n = TrimFirstPrefix(n, r.Prefixes)
		switch {
		case r.Official(n):
			official++
		case r.Diffusers(n):
			diffusers++
		}
	}
	switch {
	case official > 0 && diffusers == 0:
		return LayoutOfficial, nil
	case diffusers > 0 && official == 0:
		return LayoutDiffusers, nil
	case official == 0 && diffusers == 0:
		return 0, fmt.Errorf("no %s weights found (neither official %s nor diffusers %s names)", r.Part, r.OfficialHint, r.DiffusersHint)
	}
	return 0, fmt.Errorf("mixed naming: %d official and %d diffusers %s weight names", official, diffusers, r.Part)
}
