package main

import (
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// checkpointNames lists the tensor names of a checkpoint path.
func checkpointNames(path string) ([]string, error) {
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	return ck.Names(), nil
}

// checkpointMetadata returns a checkpoint's header metadata (all shards').
func checkpointMetadata(path string) (map[string]string, error) {
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	return ck.Metadata(), nil
}

// modelInputs lists the paths a command reading the transformer of model
// reads: the model path itself, the transformer checkpoint (file or folder),
// its config folder, its shard index and its weight files; parts that cannot be found are
// left out (loading reports them). Outputs are checked against these (see
// fsutil.CheckOutput).
func modelInputs(model string) []string {
	inputs := []string{model}
	ckpt, configDir, err := flux2.ResolveTransformerPath(model)
	if err != nil {
		return inputs
	}
	inputs = append(inputs, ckpt, configDir)
	ck, err := weights.OpenCheckpoint(ckpt)
	if err != nil {
		return inputs
	}
	defer ck.Close()
	return append(append(inputs, ck.Path()), ck.Files()...)
}
