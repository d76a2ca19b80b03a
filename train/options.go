package train

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

// OptionsFromJob converts a validated job config into trainer options for a
// model of the given variant.
func OptionsFromJob(cfg *job.Config, v flux2.Variant) (Options, error) {
	t := cfg.Train
	dtype := dtypes.BFloat16
	if cfg.Model.DType == "f32" {
		dtype = dtypes.Float32
	}
	ckpt := t.GradientCheckpointing == "on"
	if t.GradientCheckpointing == "auto" {
		// On for the published sizes, where activations dominate memory.
		ckpt = v.Config.Hidden >= 3072
	}
	return Options{
		Steps:     t.Steps,
		GradAccum: t.GradAccum,
		Timesteps: TimestepSampler{Kind: t.Timesteps, LogitMean: t.LogitMean, LogitStd: t.LogitStd,
			SigmoidScale: t.SigmoidScale, LossWeighting: t.LossWeighting},
		LR: LRSchedule{Kind: t.Schedule, Base: t.LR, Min: t.MinLR, Warmup: t.WarmupSteps, Total: t.Steps},
		Optimizer: AdamWConfig{Beta1: t.Beta1, Beta2: t.Beta2, Epsilon: t.Epsilon, WeightDecay: t.WeightDecay,
			MaxGradNorm: t.MaxGradNorm, EightBit: t.Optimizer == "adamw8bit"},
		Guidance:      t.Guidance,
		DType:         dtype,
		Checkpointing: ckpt,
		EMADecay:      t.EMADecay,
		Seed:          uint64(t.Seed),
	}, nil
}

// AdapterSpec converts the job's adapter section.
func AdapterSpec(cfg *job.Config) lora.Spec {
	a := cfg.Adapter
	s := lora.Spec{Preset: a.Targets, Rank: a.Rank, Alpha: a.Alpha, Include: a.Include, Exclude: a.Exclude}
	for _, o := range a.Overrides {
		s.Overrides = append(s.Overrides, lora.Override{Pattern: o.Pattern, Rank: o.Rank, Alpha: o.Alpha})
	}
	return s
}

// QuantOptions converts the job's model.quantize setting.
func QuantOptions(cfg *job.Config) (quant.Options, error) {
	s, err := quant.ParseScheme(cfg.Model.Quantize)
	if err != nil {
		return quant.Options{}, fmt.Errorf("model.quantize: %w", err)
	}
	o := quant.Options{Scheme: s, DoubleQuant: s == quant.NF4}
	if len(cfg.Model.QuantizeKeep) > 0 {
		o.Keep = append([]string(nil), cfg.Model.QuantizeKeep...)
	}
	return o, nil
}
