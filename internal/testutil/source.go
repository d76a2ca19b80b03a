package testutil

import "github.com/flora-ml/flora/internal/tensorload"

// MapSource is an in-memory tensor source for model loaders' tests (the
// TensorSource interfaces of model/flux2 and model/vae); see
// tensorload.MapSource.
type MapSource = tensorload.MapSource
