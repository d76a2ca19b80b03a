// Package weights reads and writes safetensors checkpoints.
//
// A safetensors file is an 8-byte little-endian header length N, a JSON
// header of N bytes describing every tensor (dtype, shape, and the byte range
// of its data relative to the end of the header), then the raw little-endian
// tensor data. Open memory-maps a file read-only, validates its header
// strictly (every problem is an error naming the file; no input can make it
// panic or allocate memory sized by an unchecked number) and gives lazy
// per-tensor access: Bytes is a view into the mapping, Tensor and TensorAs copy
// (converting while copying) into a GoMLX tensor.
//
// OpenCheckpoint opens a single file, a sharded checkpoint through its
// *.safetensors.index.json, or a folder, behind the same accessors.
// WriteFile and Writer write files atomically; Writer streams tensor data so a
// checkpoint larger than memory can be written.
//
// DetectLayout recognises the naming scheme of a checkpoint (FLUX.2
// transformer, VAE, text encoder, LoRA adapter) from its tensor names only;
// mapping names to model parameters is left to the model packages.
//
// The package assumes a little-endian host (amd64, arm64), as safetensors
// data is little-endian; Open refuses to run on a big-endian host.
package weights
