package autoencoder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flora-ml/flora/internal/rss"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/train"
)

// Summary is what a run did.
type Summary struct {
	// StartStep and EndStep are the steps done before and after the run.
	StartStep, EndStep int
	// FirstLoss and LastLoss are the loss of the run's first and last step.
	FirstLoss, LastLoss float64
	Duration            time.Duration
	// LastCheckpoint is the newest checkpoint folder, Output the exported
	// weights file (empty when the run stopped early).
	LastCheckpoint, Output string
	// Interrupted is set when the context was cancelled.
	Interrupted bool
}

// OutputPath is where a run exports its autoencoder: OUT/NAME.safetensors.
func OutputPath(outDir, name string) string { return filepath.Join(outDir, name+".safetensors") }

// CheckpointsDir is the folder of a run's checkpoints.
func CheckpointsDir(outDir string) string { return filepath.Join(outDir, "checkpoints") }

// Run trains until Options.Steps or until ctx is cancelled. It appends
// metrics.jsonl, saves a checkpoint and a reconstruction preview every
// SaveEvery steps and at the end (the latent statistics set first), and at
// the end exports OUT/NAME.safetensors (official layout) and loss.png. A
// cancelled run saves a checkpoint to resume from.
func (t *Trainer) Run(ctx context.Context) (*Summary, error) {
	o := t.opts
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output folder: %w", err)
	}
	resumeStep := -1
	if t.step > 0 {
		resumeStep = t.step
	}
	metricsPath := filepath.Join(o.OutDir, "metrics.jsonl")
	mw, err := train.OpenMetrics(metricsPath, resumeStep)
	if err != nil {
		return nil, err
	}
	defer mw.Close()
	var prog *train.Progress
	if o.Log != nil {
		prog = train.NewProgress(o.Log, t.step, o.Steps)
		defer prog.Finish()
	}
	sum := &Summary{StartStep: t.step, EndStep: t.step}
	start := time.Now()
	defer func() { sum.Duration = time.Since(start) }()
	for t.step < o.Steps {
		if ctx.Err() != nil {
			sum.Interrupted = true
			if t.step > sum.StartStep {
				if sum.LastCheckpoint, err = t.save(false); err != nil {
					return sum, err
				}
			}
			return sum, nil
		}
		res, err := t.Step()
		if err != nil {
			return sum, err
		}
		if t.step == sum.StartStep+1 {
			sum.FirstLoss = res.Loss
		}
		sum.LastLoss, sum.EndStep = res.Loss, t.step
		rec := train.MetricsRecord{Step: res.Step, Loss: res.Loss, LossSmooth: res.LossSmooth, LR: res.LR, GradNorm: res.GradNorm,
			Time: t.elapsed.Seconds(), StepTime: res.Duration.Seconds(), HostMemory: rss.Current()}
		if err := mw.Write(rec); err != nil {
			return sum, err
		}
		if prog != nil {
			prog.Step(res)
		}
		if o.OnStep != nil {
			o.OnStep(res)
		}
		if o.SaveEvery > 0 && t.step%o.SaveEvery == 0 && t.step < o.Steps {
			if sum.LastCheckpoint, err = t.save(true); err != nil {
				return sum, err
			}
		}
	}
	if sum.LastCheckpoint, err = t.save(true); err != nil {
		return sum, err
	}
	out := OutputPath(o.OutDir, o.Name)
	meta, err := t.metadata()
	if err != nil {
		return sum, err
	}
	if err := t.vae.SaveCheckpoint(out, vae.LayoutOfficial, meta); err != nil {
		return sum, fmt.Errorf("exporting the autoencoder: %w", err)
	}
	sum.Output = out
	if err := train.WriteLossCurve(metricsPath, filepath.Join(o.OutDir, "loss.png")); err != nil && o.Log != nil {
		fmt.Fprintf(o.Log, "warning: loss curve: %v\n", err)
	}
	return sum, nil
}

// metadata is the exported file's: the run's kind and steps, and the
// architecture under bundle.VAEConfigKey (shapes do not tell the GroupNorm
// group count of small autoencoders; bundle.LoadVAE reads it).
func (t *Trainer) metadata() (map[string]string, error) {
	cfg, err := t.vae.Config.DiffusersConfigJSON()
	if err != nil {
		return nil, fmt.Errorf("recording the autoencoder's architecture: %w", err)
	}
	return map[string]string{"flora.kind": Kind, "flora.steps": fmt.Sprint(t.step), bundle.VAEConfigKey: string(cfg)}, nil
}

// save sets the latent statistics, writes a checkpoint (pruning old ones)
// and, with preview, a reconstruction preview; it returns the checkpoint.
func (t *Trainer) save(preview bool) (string, error) {
	o := t.opts
	if err := SetLatentStats(t.backend, t.vae, t.images); err != nil {
		return "", err
	}
	dir, err := t.SaveCheckpoint(CheckpointsDir(o.OutDir))
	if err != nil {
		return "", err
	}
	if err := train.PruneCheckpoints(CheckpointsDir(o.OutDir), o.KeepLast); err != nil {
		return dir, err
	}
	if o.OnCheckpoint != nil {
		o.OnCheckpoint(t.step, dir)
	}
	if preview {
		p := filepath.Join(o.OutDir, "previews", train.CheckpointName(t.step)+".png")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return dir, err
		}
		if err := WritePreview(t.vae, t.images, o.Crop, p); err != nil {
			return dir, errors.Join(errors.New("writing the reconstruction preview"), err)
		}
		if o.OnPreview != nil {
			o.OnPreview(t.step, p)
		}
	}
	return dir, nil
}
