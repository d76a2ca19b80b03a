package tensorload

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

func (l Layout) String() string {
	if l == LayoutDiffusers {
		return "diffusers"
	}
	return "official"
}
