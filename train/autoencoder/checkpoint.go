package autoencoder

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/model/weights"
	"github.com/flora-ml/flora/train"
)

// An autoencoder checkpoint is a folder root/step-NNNNNN (the LoRA
// trainer's naming, so train.ListCheckpoints and PruneCheckpoints apply):
//
//	weights.safetensors    every weight, official names, float32 (vae.Load reads it)
//	optimizer.safetensors  the optimizer's state tensors
//	state.json             kind, step, RNG state, smoothed loss, config
//
// written to a temporary folder and renamed into place.

// Kind is the "kind" recorded in an autoencoder checkpoint's state.json.
const Kind = "autoencoder"

// ErrNotAutoencoderCheckpoint marks a checkpoint folder of another kind of
// run (a LoRA checkpoint given to an autoencoder job).
var ErrNotAutoencoderCheckpoint = errors.New("not an autoencoder checkpoint")

// ckState is state.json; step, config, backend and created use the LoRA
// checkpoints' keys so train.ReadCheckpointInfo reads it too.
type ckState struct {
	Kind       string             `json:"kind"`
	Step       int                `json:"step"`
	OptStep    int                `json:"optimizer_step"`
	Optimizer  string             `json:"optimizer"`
	OptScalars map[string]float64 `json:"optimizer_scalars,omitempty"`
	RNG        []byte             `json:"rng"`
	Smooth     smoother           `json:"loss_smooth"`
	Elapsed    float64            `json:"elapsed_seconds"`
	Backend    string             `json:"backend,omitempty"`
	Config     string             `json:"config,omitempty"`
	Created    time.Time          `json:"created"`
}

// SaveCheckpoint writes the trainer's state to root/step-NNNNNN atomically
// and returns the folder.
func (t *Trainer) SaveCheckpoint(root string) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating the checkpoint folder: %w", err)
	}
	final := filepath.Join(root, train.CheckpointName(t.step))
	if err := fsutil.WriteFolderAtomic(final, t.writeCheckpoint); err != nil {
		return "", fmt.Errorf("saving checkpoint %s: %w", final, err)
	}
	return final, nil
}

func (t *Trainer) writeCheckpoint(dir string) error {
	names := t.vae.Config.ParamNames()
	ws := make([]*tensors.Tensor, len(names))
	for i, n := range names {
		ws[i] = t.vae.Weight(n)
	}
	meta, err := t.metadata()
	if err != nil {
		return err
	}
	if err := weights.WriteTensors(filepath.Join(dir, "weights.safetensors"), names, ws, meta); err != nil {
		return err
	}
	ost := t.opt.State()
	if err := weights.WriteTensors(filepath.Join(dir, "optimizer.safetensors"), ost.Names, ost.Tensors, nil); err != nil {
		return err
	}
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	st := ckState{Kind: Kind, Step: t.step, OptStep: ost.Step, Optimizer: cmp.Or(t.opts.Optimizer.Name, train.OptimizerAdamW),
		OptScalars: ost.Scalars, RNG: rng, Smooth: t.smooth, Elapsed: t.elapsed.Seconds(),
		Backend: t.opts.Backend, Config: t.opts.Config, Created: time.Now().UTC()}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, "state.json"), js)
}

// LoadCheckpoint restores weights, optimizer state, step, RNG and smoothed
// loss from a folder written by SaveCheckpoint for the same architecture
// and optimizer.
func (t *Trainer) LoadCheckpoint(dir string) error {
	js, err := fsutil.ReadFileLimited(filepath.Join(dir, "state.json"), 1<<20, "a checkpoint's state.json")
	if err != nil {
		return fmt.Errorf("reading checkpoint %s: %w", dir, err)
	}
	var st ckState
	if err := json.Unmarshal(js, &st); err != nil {
		return fmt.Errorf("reading checkpoint %s/state.json: %w", dir, err)
	}
	if st.Kind != Kind {
		return fmt.Errorf("checkpoint %s (kind %q): %w; give a checkpoint of an autoencoder run", dir, cmp.Or(st.Kind, "lora"), ErrNotAutoencoderCheckpoint)
	}
	if want := cmp.Or(t.opts.Optimizer.Name, train.OptimizerAdamW); st.Optimizer != want {
		return fmt.Errorf("checkpoint %s was made with optimizer %s, the job asks for %s", dir, st.Optimizer, want)
	}
	names := t.vae.Config.ParamNames()
	ws, err := weights.ReadTensors(filepath.Join(dir, "weights.safetensors"), names)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w (another autoencoder architecture?)", dir, err)
	}
	ostNames := t.opt.StateNames()
	ost, err := weights.ReadTensors(filepath.Join(dir, "optimizer.safetensors"), ostNames)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	pcg := *t.pcg
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("checkpoint %s: RNG state: %w", dir, err)
	}
	for i, n := range names {
		if err := t.vae.SetWeight(n, ws[i]); err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
	}
	if err := t.opt.SetState(&train.OptimizerState{Step: st.OptStep, Names: ostNames, Tensors: ost, Scalars: st.OptScalars}); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	*t.pcg = pcg
	t.step, t.smooth = st.Step, st.Smooth
	t.elapsed = time.Duration(st.Elapsed * float64(time.Second))
	return nil
}
