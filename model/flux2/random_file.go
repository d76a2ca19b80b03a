package flux2

import (
	"fmt"

	"github.com/flora-ml/flora/model/weights"
)

// WriteRandomCheckpoint writes a checkpoint of the architecture with
// RandomWeight values in the official single-file layout, streaming chunk by
// chunk (a 64 GB FLUX.2 [dev] file needs a few MB of memory). dtype is the
// stored dtype (BF16 like the published files, or F32).
func WriteRandomCheckpoint(path string, cfg Config, seed uint64, dtype weights.DType, progress func(done, total int64)) error {
	if !dtype.IsFloat() {
		return fmt.Errorf("random checkpoints need a float dtype, got %s", dtype)
	}
	names := cfg.ParamNames()
	specs := make([]weights.TensorSpec, len(names))
	var total int64
	for i, n := range names {
		specs[i] = weights.TensorSpec{Name: n, DType: dtype, Shape: cfg.ParamShapes()[n]}
		b, err := specs[i].NumBytes()
		if err != nil {
			return err
		}
		total += b
	}
	w, err := weights.NewWriter(path, specs, map[string]string{"format": "bfl", "generator": "flora random", "seed": fmt.Sprint(seed)})
	if err != nil {
		return err
	}
	defer w.Abort()
	var done int64
	for _, s := range specs {
		err := RandomWeightChunks(s.Name, s.Shape, seed, 1<<20, func(chunk []float32) error {
			done += int64(len(chunk) * s.DType.Size())
			if progress != nil {
				progress(done, total)
			}
			return w.WriteFloat32s(chunk)
		})
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return w.Commit()
}
