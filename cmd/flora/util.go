package main

import "github.com/flora-ml/flora/model/weights"

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
