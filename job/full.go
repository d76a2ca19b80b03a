package job

// AdapterFull is the adapter.type that trains every transformer weight
// (full fine-tuning) instead of an adapter. It is meant for small models
// (pretraining Flora's embedded nano model): the weights, their gradients
// and the optimizer state of a real FLUX.2 take 16 bytes per weight in
// float32 (klein 4B: 58 GiB, dev: 482 GiB), and the memory plan refuses
// those variants.
const AdapterFull = "full"

// AdapterTypes are the values of adapter.type.
var AdapterTypes = []string{"lora", "lokr", AdapterFull}

// validateFull checks the settings full training needs: float32 weights it
// can update in place (no quantized base, no bf16 storage) and no adapter
// file to start from.
func validateFull(c *Config, ps *Problems) {
	if c.Model.Quantize != "" && c.Model.Quantize != "none" {
		ps.add("model.quantize", "must be none with adapter.type full (the trained weights are updated in place), got %q", c.Model.Quantize)
	}
	if c.Model.DType != "f32" {
		ps.add("model.dtype", "must be f32 with adapter.type full (the optimizer updates the weights in place; bf16 weights lose small updates), got %q", c.Model.DType)
	}
	if c.Adapter.InitFrom != "" {
		ps.add("adapter.init_from", "does not apply to adapter.type full (there is no adapter): to continue from trained weights, set model.path to the exported model file")
	}
}
