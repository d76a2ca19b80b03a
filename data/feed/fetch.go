package feed

import (
	"fmt"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
)

// fetch reads one kind of cached tensor (latents or caption embeddings) for
// a batch of samples, encoding the cache misses when it can.
type fetch struct {
	// kind is the cache section and key the sample's key in it.
	kind cache.Kind
	key  func(data.Sample) cache.Key
	// encode computes the tensors of the samples missing from the cache, in
	// order; nil when no encoder is loaded, and absent then says why the
	// first missing sample cannot be served.
	encode func([]data.Sample) ([]cache.Tensor, error)
	absent func(data.Sample) error
	// encoder, outputs and inputs name the encoder and what it turns into
	// what, for the error when it returns the wrong count.
	encoder, outputs, inputs string
}

// run returns the samples' tensors: the cached ones from store, the others
// encoded.
func (f fetch) run(store *cache.Store, samples []data.Sample) ([]cache.Tensor, error) {
	out := make([]cache.Tensor, len(samples))
	var missing []int
	for i, smp := range samples {
		t, ok, err := store.Get(f.kind, f.key(smp))
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = t
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if f.encode == nil {
		return nil, f.absent(samples[missing[0]])
	}
	todo := make([]data.Sample, len(missing))
	for j, i := range missing {
		todo[j] = samples[i]
	}
	enc, err := f.encode(todo)
	if err != nil {
		return nil, err
	}
	if len(enc) != len(missing) {
		return nil, fmt.Errorf("%s returned %d %s for %d %s", f.encoder, len(enc), f.outputs, len(missing), f.inputs)
	}
	for j, i := range missing {
		out[i] = enc[j]
	}
	return out, nil
}
