package job

// Default returns the configuration every job starts from; the YAML file and
// `--set` overrides are applied on top. The values follow the converged
// recipe of the field (lr 1e-4, alpha = rank, batch 1, buckets 512/768/1024,
// caption dropout 0.05, guidance 1.0 for dev; see trainers-survey.md).
func Default() *Config {
	return &Config{
		Kind: KindLoRA,
		Name: "flora-lora",
		Model: ModelConfig{
			Variant:             "auto",
			Quantize:            "none",
			TextEncoderQuantize: "none",
			DType:               "bf16",
			Backend:             "auto",
			BlocksOnHost:        "auto",
		},
		Adapter: AdapterConfig{
			Type:    "lora",
			Rank:    16,
			Targets: "blocks",
		},
		Dataset: DatasetConfig{
			CaptionDropout: 0.05,
			Resolutions:    []int{512, 768, 1024},
			MinSide:        256,
			Crop:           "center",
			Background:     "white",
		},
		Train: TrainConfig{
			Steps:                  3000,
			BatchSize:              1,
			GradAccum:              1,
			LR:                     1e-4,
			Optimizer:              "adamw",
			Beta1:                  0.9,
			Beta2:                  0.999,
			Epsilon:                1e-8,
			WeightDecay:            1e-4,
			ProdigyD0:              1e-6,
			ProdigyDCoef:           1,
			ProdigyDecouple:        true,
			AdafactorClipThreshold: 1,
			AdafactorDecayRate:     -0.8,
			AdafactorEps1:          1e-30,
			AdafactorEps2:          1e-3,
			Schedule:               "constant",
			MaxGradNorm:            1.0,
			Timesteps:              "flux2_shift",
			LogitMean:              0,
			LogitStd:               1,
			SigmoidScale:           1,
			LossWeighting:          "none",
			Guidance:               1.0,
			GradientCheckpointing:  "auto",
			OffloadActivations:     "auto",
			Devices:                "1",
			Seed:                   42,
			SaveEvery:              250,
			KeepLast:               3,
		},
		Sample: SampleConfig{
			// Previews need prompts, which only the user can give; the
			// presets in configs/ turn them on.
			Every:       0,
			Seeds:       []int64{42},
			Steps:       28,
			Guidance:    4.0,
			Width:       1024,
			Height:      1024,
			CompareBase: true,
		},
		Output: OutputConfig{
			Dir:     "runs/flora-lora",
			Formats: []string{"comfy", "diffusers"},
		},
	}
}
