package pipeline

import (
	"fmt"
	"strconv"

	"github.com/flora-ml/flora/internal/version"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/train"
)

// isFull reports whether the job trains every transformer weight
// (adapter.type full) instead of an adapter.
func isFull(cfg *job.Config) bool { return cfg.Adapter.Type == job.AdapterFull }

// fullLayouts are the files a full-training run exports, one per distinct
// layout its output.formats ask for: the official single file (what
// ComfyUI and BFL's code load) for comfy and kohya, the diffusers
// transformer naming for diffusers. The format only picks the file name
// (ExportPath).
func fullLayouts(cfg *job.Config) map[lora.Format]flux2.Layout {
	out := map[lora.Format]flux2.Layout{}
	for _, f := range cfg.Output.Formats {
		if lora.Format(f) == lora.FormatDiffusers {
			out[lora.FormatDiffusers] = flux2.LayoutDiffusers
		} else {
			out[lora.FormatComfy] = flux2.LayoutOfficial
		}
	}
	return out
}

// fullExporter writes the model's trained weights (and with EMA the
// averaged ones, NAME.ema[.FORMAT].safetensors) as transformer checkpoints
// that model.path loads.
func fullExporter(cfg *job.Config, m *flux2.Model, tr *train.Trainer, yaml string) func(dir string, step int) ([]string, error) {
	save := func(dir, name string, step int) ([]string, error) {
		meta := map[string]string{"flora.kind": job.AdapterFull, "flora.steps": strconv.Itoa(step), "flora.config": yaml,
			"flora.title": cfg.Name, "software": version.Software()}
		var files []string
		for format, layout := range fullLayouts(cfg) {
			p := ExportPath(dir, name, format)
			if err := m.SaveCheckpoint(p, layout, meta); err != nil {
				return nil, fmt.Errorf("exporting the trained model: %w", err)
			}
			files = append(files, p)
		}
		return files, nil
	}
	return withEMAExport(cfg, tr, save)
}

// withEMAExport exports with save, and with EMA also the averaged weights
// under EMAName.
func withEMAExport(cfg *job.Config, tr *train.Trainer, save func(dir, name string, step int) ([]string, error)) func(dir string, step int) ([]string, error) {
	return func(dir string, step int) ([]string, error) {
		files, err := save(dir, cfg.Name, step)
		if err != nil || !tr.HasEMA() {
			return files, err
		}
		err = tr.WithEMA(func() error {
			ema, err := save(dir, EMAName(cfg.Name), step)
			files = append(files, ema...)
			return err
		})
		return files, err
	}
}

// checkFullTraining refuses full training of a published FLUX.2 variant,
// with the plan's numbers: its weights, gradients and optimizer state
// alone exceed any single GPU a user trains on.
func checkFullTraining(v flux2.Variant, p train.MemoryPlan) error {
	if _, err := flux2.VariantByName(v.Name); err != nil || v.Name == "tiny" {
		return nil // Flora's own small architectures and custom ones
	}
	gib := func(n int64) float64 { return float64(n) / (1 << 30) }
	return fmt.Errorf("adapter.type full trains all %.1fB weights of FLUX.2 %s: weights, gradients and optimizer state alone need %.0f GiB (%.0f GiB with activations), "+
		"far beyond one consumer GPU (24 GiB); full fine-tuning is for small models such as embedded:nano-init — train a LoRA (adapter.type: lora) or LoKr instead",
		float64(v.Config.NumParams())/1e9, v.Name, gib(p.BaseWeights+p.Adapter+p.Optimizer), gib(p.Total))
}

// trainedSet is what a run trains: an adapter attached to the model, or
// with adapter.type full the model's own weights (adapter nil).
type trainedSet struct {
	adapter *lora.Adapter
	targets []lora.Target
	// params is the number of trained weights.
	params int64
}

// newTrained attaches the job's adapter, or makes the base weights
// trainable for adapter.type full.
func newTrained(cfg *job.Config, m *flux2.Model, seed uint64, rep Reporter) (*trainedSet, error) {
	if isFull(cfg) {
		if err := m.SetBaseTrainable(true); err != nil {
			return nil, err
		}
		return &trainedSet{params: m.Config.NumParams()}, nil
	}
	adapter, targets, err := newAdapter(cfg, m, seed, rep)
	if err != nil {
		return nil, err
	}
	if err := warnIncompatibleExports(cfg, adapter, rep); err != nil {
		return nil, err
	}
	return &trainedSet{adapter: adapter, targets: targets, params: adapter.NumParams()}, nil
}

// describe is the run's log line about what it trains.
func (s *trainedSet) describe(cfg *job.Config) string {
	if s.adapter == nil {
		return fmt.Sprintf("full training: every transformer weight, %d parameters", s.params)
	}
	return fmt.Sprintf("adapter: %d layers, %d parameters (rank %d, alpha %g, targets %s)",
		len(s.targets), s.params, cfg.Adapter.Rank, s.targets[0].Alpha, cfg.Adapter.Targets)
}

// exporter is the run's export callback: adapter files, or with full
// training transformer checkpoints.
func (s *trainedSet) exporter(cfg *job.Config, m *flux2.Model, tr *train.Trainer, meta lora.Meta) func(dir string, step int) ([]string, error) {
	if s.adapter == nil {
		return fullExporter(cfg, m, tr, meta.Config)
	}
	return exporter(cfg, m, tr, meta)
}
