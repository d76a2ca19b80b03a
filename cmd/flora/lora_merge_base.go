package main

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

// mergeBase loads the transformer a merge starts from — a built-in model
// (embedded:tiny, merged into an official-layout file) or a checkpoint on
// disk, kept in its stored dtype and layout — with the metadata the merged
// file inherits.
func mergeBase(b backends.Backend, base string) (*flux2.Model, map[string]string, flux2.Layout, error) {
	if bundle.IsEmbedded(base) {
		c, err := bundle.LoadEmbedded(b, base, dtypes.Float32, quant.None)
		if err != nil {
			return nil, nil, flux2.LayoutOfficial, err
		}
		c.Text.Release()
		return c.Transformer, map[string]string{"format": "bfl", "flora.base": base}, flux2.LayoutOfficial, nil
	}
	m, err := flux2.Load(b, base, flux2.LoadOptions{DType: dtypes.InvalidDType})
	if err != nil {
		return nil, nil, flux2.LayoutOfficial, err
	}
	ckpt, _, err := flux2.ResolveTransformerPath(base)
	if err != nil {
		return nil, nil, flux2.LayoutOfficial, err
	}
	layout := flux2.LayoutOfficial
	if names, err := checkpointNames(ckpt); err == nil {
		if l, err := flux2.DetectLayout(names); err == nil {
			layout = l
		}
	}
	md, err := checkpointMetadata(ckpt)
	if err != nil {
		return nil, nil, flux2.LayoutOfficial, err
	}
	return m, md, layout, nil
}
