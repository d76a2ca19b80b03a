package job

import (
	"strings"
)

// Job kinds (Config.Kind).
const (
	// KindLoRA trains a LoRA/LoKr adapter for a FLUX.2 model.
	KindLoRA = "lora"
	// KindAutoencoder trains a small FLUX.2-architecture autoencoder.
	KindAutoencoder = "autoencoder"
)

// Kinds are the allowed values of kind.
var Kinds = []string{KindLoRA, KindAutoencoder}

// AutoencoderStarts are the built-in starting autoencoders of kind
// autoencoder (besides a file or folder path in model.vae).
var AutoencoderStarts = []string{"embedded:tiny", "random:tiny"}

// IsAutoencoder reports whether the job trains an autoencoder.
func (c *Config) IsAutoencoder() bool { return c.Kind == KindAutoencoder }

// validateAutoencoder checks the settings an autoencoder job reads. The
// adapter.*, sample.*, text and model.path settings are not used by this
// kind and are ignored (their defaults are valid anyway), and so is
// model.dtype (the autoencoder always trains in float32); the settings an
// autoencoder job cannot honour are errors naming the key.
func validateAutoencoder(ps *Problems, c *Config) {
	m := &c.Model
	switch {
	case strings.TrimSpace(m.VAE) == "":
		ps.add("model.vae", "is required for kind autoencoder: the starting autoencoder (a .safetensors file or folder, %s)", strings.Join(AutoencoderStarts, " or "))
	case strings.HasPrefix(m.VAE, "embedded:") || strings.HasPrefix(m.VAE, "random:"):
		ok := false
		for _, s := range AutoencoderStarts {
			ok = ok || m.VAE == s
		}
		if !ok {
			ps.add("model.vae", "built-in starting autoencoders are %s, got %q", strings.Join(AutoencoderStarts, " and "), m.VAE)
		}
	}
	if len(c.Dataset.Resolutions) != 1 {
		ps.add("dataset.resolutions", "takes one training crop size for kind autoencoder, e.g. [32] (square random crops), got %v", c.Dataset.Resolutions)
	}
	t := &c.Train
	if t.GradAccum != 1 {
		ps.add("train.grad_accum", "must be 1 for kind autoencoder (raise train.batch_size instead), got %d", t.GradAccum)
	}
	if n, ok := t.DeviceCount(); !ok || n != 1 {
		ps.add("train.devices", "must be 1 for kind autoencoder (it trains on one device), got %q", t.Devices)
	}
	if t.EMADecay != 0 {
		ps.add("train.ema_decay", "is not supported for kind autoencoder; remove it")
	}
	if c.Sample.Every != 0 {
		ps.add("sample.every", "must be 0 for kind autoencoder: it writes reconstruction previews at every checkpoint (train.save_every) instead")
	}
}
