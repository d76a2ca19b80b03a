// Package job defines Flora's job configuration: one YAML file that describes
// the model, the adapter, the dataset, the training run, the preview sampling
// and the outputs, in the style users know from ai-toolkit.
//
// A configuration is resolved in three layers: built-in defaults (Default),
// the YAML file, then `--set path.to.key=value` overrides. Unknown keys are
// errors (a typo must never be silently ignored) and Validate reports every
// problem at once, each with its key path and the fix.
package job

// Config is a complete Flora job.
type Config struct {
	// Kind is what the job trains: lora (the default: an adapter for a
	// FLUX.2 model) or autoencoder (a small FLUX.2-architecture autoencoder
	// from model.vae; see docs/autoencoder.md).
	Kind string `yaml:"kind"`
	// Name identifies the run; it names the output files.
	Name string `yaml:"name"`
	// Model selects the base model and how it is held in memory.
	Model ModelConfig `yaml:"model"`
	// Adapter describes the LoRA adapter to train.
	Adapter AdapterConfig `yaml:"adapter"`
	// Dataset describes the training images and captions.
	Dataset DatasetConfig `yaml:"dataset"`
	// Train holds the optimisation settings.
	Train TrainConfig `yaml:"train"`
	// Sample configures preview images rendered during training.
	Sample SampleConfig `yaml:"sample"`
	// Output says where and in which formats results are written.
	Output OutputConfig `yaml:"output"`
}

// ModelConfig selects the base model.
type ModelConfig struct {
	// Path is the transformer checkpoint: an official single file
	// (flux2-dev.safetensors), a diffusers model folder, or a built-in model
	// bundled with Flora ("embedded:nano", the pretrained demo base;
	// "embedded:tiny", random weights; "embedded:nano-init").
	Path string `yaml:"path"`
	// Variant is the FLUX.2 variant; "auto" infers it from the weights.
	Variant string `yaml:"variant"`
	// VAE is the autoencoder checkpoint; empty means "next to the model"
	// (ae.safetensors or the diffusers vae/ folder). For kind autoencoder it
	// is the starting autoencoder: a file or folder, embedded:tiny (the
	// demo's hand-set analytic autoencoder) or random:tiny (seeded random
	// weights of the demo architecture).
	VAE string `yaml:"vae"`
	// TextEncoder is the text-encoder folder; empty means "next to the
	// model" (the diffusers text_encoder/ and tokenizer/ folders).
	TextEncoder string `yaml:"text_encoder"`
	// Quantize is the storage of the frozen base weights: none, int8, fp8 or nf4.
	Quantize string `yaml:"quantize"`
	// QuantizeKeep lists module patterns (path.Match on official module
	// paths, e.g. "final_layer.*", "double_blocks.*.img_attn.qkv") left
	// unquantized; empty keeps the default set (embedders, time/guidance
	// MLPs, shared modulation, final layer).
	QuantizeKeep []string `yaml:"quantize_keep"`
	// TextEncoderQuantize stores the text encoder's layers as none, int8,
	// fp8 or nf4 while captions are encoded (Mistral Small 3.1 for dev is
	// 48 GB in bf16: int8 or nf4 on a 24 GB card).
	TextEncoderQuantize string `yaml:"text_encoder_quantize"`
	// BlocksOnHost is block swap: the number of transformer blocks whose
	// (quantized) weights stay in host memory and are copied to the device
	// for each use, or auto (as many as the memory plan needs to fit the
	// device; none when its memory is unknown).
	BlocksOnHost string `yaml:"blocks_on_host"`
	// DType is the compute dtype: bf16 or f32.
	DType string `yaml:"dtype"`
	// Backend is auto, go, xla:cpu or xla:cuda (see `flora help`).
	Backend string `yaml:"backend"`
}

// AdapterConfig describes the LoRA adapter.
type AdapterConfig struct {
	// Type is the adapter kind: "lora" (default), "lokr" (LyCORIS LoKr,
	// ΔW = scale·kron(W1, W2), as ai-toolkit, musubi-tuner and SimpleTuner
	// train it) or "full" (every transformer weight is trained: small
	// models only, see AdapterFull).
	Type string `yaml:"type"`
	// Rank is the LoRA rank r; for lokr the rank of a low-rank w2 (see
	// FullMatrix).
	Rank int `yaml:"rank"`
	// Factor (lokr only) splits each layer dimension into a small w1 side and
	// a large w2 side: the factor itself when it divides the dimension and
	// its square does not exceed it, else the most balanced divisor pair
	// whose small side is at most the factor (LyCORIS' factorization).
	// -1, and 0 (unset), mean no bound: the most balanced split, LyCORIS' and
	// ai-toolkit's default; SimpleTuner's FLUX.2 klein examples use 4, and
	// 8 or 16 are common.
	Factor int `yaml:"factor,omitempty"`
	// FullMatrix (lokr only) stores w2 whole, as ai-toolkit's lokr_full_rank
	// and SimpleTuner's usual linear_dim 10000 do; unset means true. With
	// false, w2 = w2_a·w2_b of rank adapter.rank with scale alpha/rank, unless
	// the rank is at least half of w2's larger side, where it is stored
	// whole (LyCORIS' rule). w1 is always stored whole (no decompose_both).
	FullMatrix *bool `yaml:"full_matrix,omitempty"`
	// Alpha scales the update by alpha/rank; 0 means alpha = rank.
	Alpha float64 `yaml:"alpha"`
	// Dropout is the dropout rate applied to the LoRA input.
	Dropout float64 `yaml:"dropout"`
	// Targets is a preset: blocks, attention, attention+mlp or all.
	Targets string `yaml:"targets"`
	// Include restricts targets to layers matching one of these patterns
	// (official module paths, `*` wildcards), applied after the preset.
	Include []string `yaml:"include"`
	// Exclude removes layers matching any of these patterns.
	Exclude []string `yaml:"exclude"`
	// Overrides set rank/alpha per pattern (first match wins).
	Overrides []AdapterOverride `yaml:"overrides"`
	// InitFrom starts from an existing adapter file instead of zeros.
	InitFrom string `yaml:"init_from"`
}

// LoKrFactor is adapter.factor with 0 (unset) read as -1.
func (a AdapterConfig) LoKrFactor() int {
	if a.Factor == 0 {
		return -1
	}
	return a.Factor
}

// LoKrFullMatrix is adapter.full_matrix, true when unset.
func (a AdapterConfig) LoKrFullMatrix() bool { return a.FullMatrix == nil || *a.FullMatrix }

// AdapterOverride sets rank and alpha for the layers matching Pattern.
type AdapterOverride struct {
	Pattern string  `yaml:"pattern"`
	Rank    int     `yaml:"rank"`
	Alpha   float64 `yaml:"alpha"`
}

// DatasetConfig describes the training data.
type DatasetConfig struct {
	// Folders lists the image folders; each may set its own repeats and
	// default caption.
	Folders []DatasetFolder `yaml:"folders"`
	// Validation is an optional folder of held-out images with captions
	// (not one of the training folders): validation loss (`flora eval
	// loss`, `flora eval run`) is measured on it, with the dataset's
	// trigger and caption rules, instead of on the training images. A
	// relative path is relative to the job file, like folders' paths.
	Validation string `yaml:"validation"`
	// Trigger is the trigger word: it replaces `{trigger}` in captions, or
	// is prepended when the caption lacks it.
	Trigger string `yaml:"trigger"`
	// DefaultCaption is used for images without a caption file.
	DefaultCaption string `yaml:"default_caption"`
	// CaptionDropout is the probability of training on the empty caption.
	CaptionDropout float64 `yaml:"caption_dropout"`
	// ReferenceDropout is the probability that a step whose images have
	// reference (control) images trains without them, so the adapter also
	// works without references.
	ReferenceDropout float64 `yaml:"reference_dropout"`
	// ShuffleTags shuffles comma-separated tags after the first KeepTokens.
	ShuffleTags bool `yaml:"shuffle_tags"`
	// KeepTokens is the number of leading tags kept in place when shuffling.
	KeepTokens int `yaml:"keep_tokens"`
	// Resolutions are the bucket resolutions (bucket area ≈ res²).
	Resolutions []int `yaml:"resolutions"`
	// MinSide skips images whose shorter side is below this many pixels.
	MinSide int `yaml:"min_side"`
	// Crop is center or random.
	Crop string `yaml:"crop"`
	// Flip enables random horizontal flips.
	Flip bool `yaml:"flip"`
	// Background is the color transparent images are composited on
	// (white, black, or #rrggbb).
	Background string `yaml:"background"`
	// MaskFromAlpha uses an image's alpha channel as its loss mask (opaque
	// trains) when it has transparent pixels and no mask file (ai-toolkit
	// alpha_mask).
	MaskFromAlpha bool `yaml:"mask_from_alpha"`
	// MaskMin is the loss weight outside a mask, in [0, 1]: a token's
	// weight is mask_min + (1 − mask_min)·m for the mask's mean m over its
	// pixels (ai-toolkit mask_min_value, default 0; OneTrainer's
	// unmasked_weight). 0 ignores what lies outside.
	MaskMin float64 `yaml:"mask_min"`
	// CacheDir holds the latent and text-embedding caches; empty means
	// "<output.dir>/cache".
	CacheDir string `yaml:"cache_dir"`
	// Embeddings is an optional table of precomputed caption embeddings
	// (safetensors: "ctx" [N, L, D], the N captions as a JSON array in
	// metadata "prompts", optional "negative" [1, L, D]). When set, no text
	// encoder is loaded: every caption, preview prompt and negative prompt
	// is looked up in it.
	Embeddings string `yaml:"embeddings"`
}

// DatasetFolder is one folder of images with captions.
type DatasetFolder struct {
	// Path is the folder, scanned recursively.
	Path string `yaml:"path"`
	// Repeats multiplies the folder's images per epoch; 0 means "from the
	// kohya-style folder name (10_subject) or 1".
	Repeats int `yaml:"repeats"`
	// DefaultCaption overrides the dataset default caption for this folder.
	DefaultCaption string `yaml:"default_caption"`
	// Control is an optional folder of reference (control) images for
	// edit/reference training, parallel to Path: the references of
	// PATH/a.png are CONTROL/a.* (any image extension), CONTROL/a_0.*,
	// CONTROL/a_1.*, … or the images of CONTROL/a/ (musubi-tuner
	// control_directory, ai-toolkit control_path). A metadata.jsonl can list
	// them instead ("control": ["a_ref.png"]).
	Control string `yaml:"control"`
	// IsRegularization marks class (regularisation / prior-preservation)
	// images: trained without the trigger word and mixed into batches by
	// the folder's repeats, to keep what the base model already draws.
	IsRegularization bool `yaml:"is_regularization"`
	// Weight scales the loss of the folder's images (0 means 1; 0.5–1 is
	// usual for regularisation images, like diffusers' prior_loss_weight).
	Weight float64 `yaml:"weight"`
	// Masks is an optional folder of loss masks parallel to Path: the mask
	// of PATH/a.png is MASKS/a.* (any image extension; grayscale or RGB
	// luminance, white trains, black is outside; the image's size). The
	// loss of each token is weighted by the mask averaged over its pixels
	// (ai-toolkit mask_path, OneTrainer masked training).
	Masks string `yaml:"masks"`
}

// TrainConfig holds the optimisation settings.
type TrainConfig struct {
	Steps     int `yaml:"steps"`
	BatchSize int `yaml:"batch_size"`
	GradAccum int `yaml:"grad_accum"`
	// LR is the peak learning rate; with prodigy it multiplies Prodigy's
	// own step size (use 1.0), with adafactor_relative_step it is not used.
	LR float64 `yaml:"lr"`
	// Optimizer is adamw, adamw8bit, prodigy or adafactor.
	Optimizer string `yaml:"optimizer"`
	// Beta1, Beta2 and Epsilon are AdamW's and Prodigy's betas and eps.
	Beta1   float64 `yaml:"beta1"`
	Beta2   float64 `yaml:"beta2"`
	Epsilon float64 `yaml:"eps"`
	// WeightDecay is decoupled for adamw, as prodigy_decouple says for
	// prodigy, and Adafactor's weight_decay for adafactor.
	WeightDecay float64 `yaml:"weight_decay"`
	// Prodigy's settings, named after prodigyopt.Prodigy's arguments (as
	// OneTrainer, ai-toolkit and SimpleTuner pass them): d0, d_coef (the
	// knob to tune, 0.5 to 2), beta3 (0 means sqrt(beta2)), growth_rate
	// (0 means unlimited, prodigyopt's inf), use_bias_correction,
	// safeguard_warmup (advised with warmup_steps) and decouple (AdamW-style
	// weight decay).
	ProdigyD0                float64 `yaml:"prodigy_d0"`
	ProdigyDCoef             float64 `yaml:"prodigy_d_coef"`
	ProdigyBeta3             float64 `yaml:"prodigy_beta3"`
	ProdigyGrowthRate        float64 `yaml:"prodigy_growth_rate"`
	ProdigyUseBiasCorrection bool    `yaml:"prodigy_use_bias_correction"`
	ProdigySafeguardWarmup   bool    `yaml:"prodigy_safeguard_warmup"`
	ProdigyDecouple          bool    `yaml:"prodigy_decouple"`
	// Adafactor's settings, named after transformers' Adafactor arguments:
	// relative_step (Adafactor's own step size min(1e-2, 1/sqrt(step))
	// instead of lr and the schedule), scale_parameter (step size times
	// the weights' RMS), warmup_init (needs relative_step), clip_threshold
	// (update RMS cap), decay_rate (second-moment decay exponent), beta1
	// (0: no first moment, transformers' None) and eps1, eps2 (its eps
	// pair). The defaults are ai-toolkit's and OneTrainer's: manual lr,
	// relative_step, scale_parameter and warmup_init off.
	AdafactorRelativeStep   bool    `yaml:"adafactor_relative_step"`
	AdafactorScaleParameter bool    `yaml:"adafactor_scale_parameter"`
	AdafactorWarmupInit     bool    `yaml:"adafactor_warmup_init"`
	AdafactorClipThreshold  float64 `yaml:"adafactor_clip_threshold"`
	AdafactorDecayRate      float64 `yaml:"adafactor_decay_rate"`
	AdafactorBeta1          float64 `yaml:"adafactor_beta1"`
	AdafactorEps1           float64 `yaml:"adafactor_eps1"`
	AdafactorEps2           float64 `yaml:"adafactor_eps2"`
	// Schedule is constant, linear or cosine (after WarmupSteps).
	Schedule    string  `yaml:"schedule"`
	WarmupSteps int     `yaml:"warmup_steps"`
	MinLR       float64 `yaml:"min_lr"`
	// MaxGradNorm clips gradients by global norm; 0 disables clipping.
	MaxGradNorm float64 `yaml:"max_grad_norm"`
	// Timesteps is how the flow time t is drawn: flux2_shift, uniform,
	// logit_normal, sigmoid or weighted (formulas and sources:
	// docs/timesteps.md).
	Timesteps    string  `yaml:"timesteps"`
	LogitMean    float64 `yaml:"logit_mean"`
	LogitStd     float64 `yaml:"logit_std"`
	SigmoidScale float64 `yaml:"sigmoid_scale"`
	// LossWeighting is none or the name of a weighting scheme.
	LossWeighting string `yaml:"loss_weighting"`
	// Guidance is the value fed to the guidance embedding of guidance-
	// distilled variants (dev); ignored by klein.
	Guidance float64 `yaml:"guidance"`
	// GradientCheckpointing is auto, on or off (auto: on for large variants).
	GradientCheckpointing string `yaml:"gradient_checkpointing"`
	// OffloadActivations moves the block inputs saved for the backward pass
	// to host memory: auto (when the memory plan needs it to fit the
	// device), on or off.
	OffloadActivations string `yaml:"offload_activations"`
	// Devices is how many devices a step is split over (data parallel: each
	// runs batch_size/devices samples, gradients are reduced inside the
	// step): 1, a number, or all (every device of the backend). batch_size
	// must be a multiple of it. Several devices need
	// gradient_checkpointing, offload_activations and model.blocks_on_host
	// off (for now).
	Devices string `yaml:"devices"`
	// ShardBase splits the frozen base weights over the devices, so each
	// holds about 1/devices of the base (gathered where used).
	ShardBase bool `yaml:"shard_base"`
	// EMADecay enables an exponential moving average of the adapter when > 0
	// (e.g. 0.999): the run exports it as NAME.ema.safetensors (and
	// NAME.ema.FORMAT.safetensors) next to the trained adapter, checkpoints
	// keep it for exact resume, and previews show it.
	EMADecay float64 `yaml:"ema_decay"`
	Seed     int64   `yaml:"seed"`
	// SaveEvery writes a checkpoint every N steps (0: only at the end).
	SaveEvery int `yaml:"save_every"`
	// KeepLast keeps the newest K checkpoints (0 keeps all).
	KeepLast int `yaml:"keep_last"`
}

// SampleConfig configures preview images.
type SampleConfig struct {
	// Every renders previews every N steps (0 disables previews).
	Every    int      `yaml:"every"`
	Prompts  []string `yaml:"prompts"`
	Negative string   `yaml:"negative"`
	Seeds    []int64  `yaml:"seeds"`
	Steps    int      `yaml:"steps"`
	Guidance float64  `yaml:"guidance"`
	Width    int      `yaml:"width"`
	Height   int      `yaml:"height"`
	// References are reference images every preview is sampled with
	// (edit / reference LoRAs; like flora sample --ref).
	References []string `yaml:"references"`
	// CompareBase puts the base model's image (adapter off; sampled once,
	// before the first step) left of each adapted image in the previews.
	CompareBase bool `yaml:"compare_base"`
}

// OutputConfig says where results go.
type OutputConfig struct {
	// Dir receives checkpoints, previews, metrics and the final adapter.
	Dir string `yaml:"dir"`
	// Formats lists the adapter export formats: comfy, diffusers.
	Formats []string `yaml:"formats"`
}
