// Package pipeline runs Flora's jobs for Go programs and the CLI: it turns a
// job config (package job) into the options of the packages that do the
// work (data, lora, quant, train), so that none of them depends on job.
// The run wiring (load, encode captions, train, sample, evaluate) moves here
// next (issue 16).
package pipeline

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/train"
)

// TrainOptions converts a validated job config into trainer options for a
// model of the given variant. The host-memory options (Memory) come from the
// memory plan (MemoryModes), not from here.
func TrainOptions(cfg *job.Config, v flux2.Variant) (train.Options, error) {
	t := cfg.Train
	dtype := dtypes.BFloat16
	if cfg.Model.DType == "f32" {
		dtype = dtypes.Float32
	}
	ckpt := t.GradientCheckpointing == "on"
	if t.GradientCheckpointing == "auto" {
		// On for the published sizes, where activations dominate memory
		// (on one device or several alike).
		ckpt = v.Config.Hidden >= 3072
	}
	return train.Options{
		Steps:     t.Steps,
		GradAccum: t.GradAccum,
		Timesteps: train.TimestepSampler{Kind: t.Timesteps, LogitMean: t.LogitMean, LogitStd: t.LogitStd,
			SigmoidScale: t.SigmoidScale, LossWeighting: t.LossWeighting},
		LR:               train.LRSchedule{Kind: t.Schedule, Base: t.LR, Min: t.MinLR, Warmup: t.WarmupSteps, Total: t.Steps},
		Optimizer:        OptimizerConfig(cfg),
		Guidance:         t.Guidance,
		DType:            dtype,
		Checkpointing:    ckpt,
		EMADecay:         t.EMADecay,
		ReferenceDropout: cfg.Dataset.ReferenceDropout,
		Seed:             uint64(t.Seed),
	}, nil
}

// OptimizerConfig converts the job's optimizer settings (train.optimizer
// and the keys of the chosen optimizer).
func OptimizerConfig(cfg *job.Config) train.OptimizerConfig {
	t := cfg.Train
	o := train.OptimizerConfig{Name: train.OptimizerAdamW, Beta1: t.Beta1, Beta2: t.Beta2, Epsilon: t.Epsilon,
		WeightDecay: t.WeightDecay, MaxGradNorm: t.MaxGradNorm,
		Prodigy: train.ProdigyConfig{D0: t.ProdigyD0, DCoef: t.ProdigyDCoef, Beta3: t.ProdigyBeta3,
			GrowthRate: t.ProdigyGrowthRate, UseBiasCorrection: t.ProdigyUseBiasCorrection,
			SafeguardWarmup: t.ProdigySafeguardWarmup, CoupledWeightDecay: !t.ProdigyDecouple},
		Adafactor: train.AdafactorConfig{RelativeStep: t.AdafactorRelativeStep, ScaleParameter: t.AdafactorScaleParameter,
			WarmupInit: t.AdafactorWarmupInit, ClipThreshold: t.AdafactorClipThreshold, DecayRate: t.AdafactorDecayRate,
			Beta1: t.AdafactorBeta1, Eps1: t.AdafactorEps1, Eps2: t.AdafactorEps2},
	}
	switch t.Optimizer {
	case "adamw8bit":
		o.EightBit = true
	case "prodigy":
		o.Name = train.OptimizerProdigy
	case "adafactor":
		o.Name = train.OptimizerAdafactor
	}
	return o
}

// ParallelOptions converts train.devices and train.shard_base for a
// backend with available devices ("all" takes them all).
func ParallelOptions(cfg *job.Config, available int) (flux2.ParallelOptions, error) {
	n, ok := cfg.Train.DeviceCount()
	if !ok {
		n = available
	}
	if n > available {
		return flux2.ParallelOptions{}, fmt.Errorf("train.devices is %d but the backend has %d device(s); the pure-Go backend has one, xla:cpu 4 virtual ones, xla:cuda one per GPU", n, available)
	}
	if cfg.Train.BatchSize%n != 0 {
		return flux2.ParallelOptions{}, fmt.Errorf("train.batch_size %d does not split over %d devices (train.devices: %s); use a multiple of %d", cfg.Train.BatchSize, n, cfg.Train.Devices, n)
	}
	p := flux2.ParallelOptions{Devices: n, ShardBase: cfg.Train.ShardBase && n > 1}
	return p, nil
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

// DatasetConfig converts the dataset section of a job config into a
// data.Config: the
// job's fields map one to one; settings the job does not have keep their
// DefaultConfig values. Folder paths are used as given (job.Load resolves
// them).
func DatasetConfig(d job.DatasetConfig) data.Config {
	c := data.DefaultConfig()
	for _, f := range d.Folders {
		c.Folders = append(c.Folders, data.Folder{Path: f.Path, Repeats: f.Repeats, DefaultCaption: f.DefaultCaption, Control: f.Control,
			Regularization: f.IsRegularization, Weight: f.Weight, Masks: f.Masks})
	}
	c.Trigger = d.Trigger
	c.DefaultCaption = d.DefaultCaption
	c.CaptionDropout = d.CaptionDropout
	c.ShuffleTags = d.ShuffleTags
	c.KeepTokens = d.KeepTokens
	c.Resolutions = append([]int(nil), d.Resolutions...)
	c.MinSide = d.MinSide
	c.Crop = data.CropMode(d.Crop)
	c.Flip = d.Flip
	c.Background = d.Background
	c.MaskFromAlpha = d.MaskFromAlpha
	c.MaskMin = d.MaskMin
	return c
}

// MemoryModes returns the job's host-memory settings (activation offload,
// block swap) as the memory plan resolves them.
func MemoryModes(cfg *job.Config) train.MemoryModes {
	return train.MemoryModes{Offload: cfg.Train.OffloadActivations, BlocksOnHost: cfg.Model.BlocksOnHost}
}
