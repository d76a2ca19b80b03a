package train

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/model/weights"
)

// A checkpoint is a folder root/step-NNNNNN holding everything needed to
// continue a run exactly — never the frozen base weights:
//
//	adapter.safetensors    trainable weights (float32, Flora's variable names)
//	optimizer.safetensors  optimizer state tensors (AdamW's moments, float32
//	                       or 8-bit codes + scales; Prodigy's m, v, s, p0;
//	                       Adafactor's row/col factors or v, and m)
//	ema.safetensors        EMA of the trainable weights (when enabled)
//	state.json             step, RNG state, data position, resolved config
//
// It is written to a temporary folder and renamed into place, so a crash or
// a full disk never leaves a half-written checkpoint and the previous ones
// stay intact.

// checkpointState is state.json.
type checkpointState struct {
	Step      int      `json:"step"`
	OptStep   int      `json:"optimizer_step"`
	RNG       []byte   `json:"rng"`
	Data      []byte   `json:"data"`
	Trainable []string `json:"trainable"`
	EightBit  bool     `json:"eight_bit_optimizer"`
	// Optimizer names the optimizer (absent, adamw in older checkpoints)
	// and OptScalars are its scalar state (Prodigy's d).
	Optimizer  string             `json:"optimizer,omitempty"`
	OptScalars map[string]float64 `json:"optimizer_scalars,omitempty"`
	EMA        bool               `json:"ema"`
	// Smooth is the smoothed-loss average and Elapsed the run's seconds so
	// far, so metrics.jsonl's loss_smooth and time columns continue on
	// resume (absent in checkpoints of older versions: they restart).
	Smooth  *smoothState `json:"loss_smooth,omitempty"`
	Elapsed float64      `json:"elapsed_seconds,omitempty"`
	// Backend names the compute backend the run used.
	Backend string    `json:"backend,omitempty"`
	Config  string    `json:"config,omitempty"`
	Created time.Time `json:"created"`
}

// smoothState is a Smoother's state in state.json.
type smoothState struct {
	Value float64 `json:"value"`
	N     int     `json:"n"`
}

// CheckpointInfo is what a checkpoint's state.json says about the run that
// wrote it.
type CheckpointInfo struct {
	Dir  string
	Step int
	// Config is the resolved job config (YAML) and Backend the compute
	// backend of the run.
	Config, Backend string
	Created         time.Time
}

// ReadCheckpointInfo reads a checkpoint folder's state.json (not its
// tensors): a quick check that dir is a checkpoint at all.
func ReadCheckpointInfo(dir string) (*CheckpointInfo, error) {
	st, err := readState(dir)
	if err != nil {
		return nil, err
	}
	return &CheckpointInfo{Dir: dir, Step: st.Step, Config: st.Config, Backend: st.Backend, Created: st.Created}, nil
}

// maxStateBytes bounds a checkpoint's state.json (a few KiB in practice).
const maxStateBytes = 16 << 20

func readState(dir string) (*checkpointState, error) {
	p := filepath.Join(dir, "state.json")
	js, err := fsutil.ReadFileLimited(p, maxStateBytes, "a checkpoint's state.json")
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	var st checkpointState
	if err := json.Unmarshal(js, &st); err != nil {
		return nil, fmt.Errorf("reading checkpoint: %s: %w", p, err)
	}
	return &st, nil
}

const checkpointPrefix = "step-"

// CheckpointName is the folder name of the checkpoint of a step.
func CheckpointName(step int) string { return fmt.Sprintf("%s%06d", checkpointPrefix, step) }

// SaveCheckpoint writes the trainer's state into root/step-NNNNNN (atomically)
// and returns the folder. config is the resolved job config recorded with it.
func (t *Trainer) SaveCheckpoint(root, config string) (string, error) {
	final := filepath.Join(root, CheckpointName(t.step))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating checkpoint folder: %w", err)
	}
	// An existing checkpoint of the same step is replaced only once the new
	// one is complete.
	if err := fsutil.WriteFolderAtomic(final, func(dir string) error { return t.writeCheckpoint(dir, config) }); err != nil {
		return "", err
	}
	return final, nil
}

// writeCheckpoint writes the trainer's state files into the folder dir.
func (t *Trainer) writeCheckpoint(dir, config string) error {
	var err error
	params := make([]*tensors.Tensor, len(t.names))
	for i, n := range t.names {
		if params[i], err = t.model.Variable(n).Value(); err != nil {
			return err
		}
	}
	if err := writeTensorsFn(filepath.Join(dir, "adapter.safetensors"), t.names, params, nil); err != nil {
		return err
	}
	ost := t.opt.State()
	if err := writeTensorsFn(filepath.Join(dir, "optimizer.safetensors"), ost.Names, ost.Tensors, nil); err != nil {
		return err
	}
	if t.ema != nil {
		if err := writeTensorsFn(filepath.Join(dir, "ema.safetensors"), t.names, t.ema, nil); err != nil {
			return err
		}
	}
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	data, err := t.src.State()
	if err != nil {
		return fmt.Errorf("saving data position: %w", err)
	}
	smooth := smoothState{Value: t.smooth.value, N: t.smooth.n}
	st := checkpointState{Step: t.step, OptStep: ost.Step, RNG: rng, Data: data, Trainable: t.names,
		EightBit: t.opts.Optimizer.EightBit, Optimizer: t.opts.Optimizer.name(), OptScalars: ost.Scalars, EMA: t.ema != nil, Smooth: &smooth, Elapsed: t.elapsed.Seconds(),
		Backend: t.opts.Backend, Config: config, Created: time.Now().UTC()}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, "state.json"), js)
}

// writeTensorsFn writes the checkpoint files; tests replace it to simulate a
// full disk.
var writeTensorsFn = weights.WriteTensors

// LoadCheckpoint restores the trainer from a checkpoint folder written by
// SaveCheckpoint for the same adapter configuration: trainable weights,
// optimizer state, EMA, step, RNG and data position.
func (t *Trainer) LoadCheckpoint(dir string) error {
	st, err := readState(dir)
	if err != nil {
		return err
	}
	if strings.Join(st.Trainable, ",") != strings.Join(t.names, ",") {
		return incompatible("checkpoint %s was made for %d other trainable weights (adapter config changed?); first differing: %s",
			dir, len(st.Trainable), firstDiff(st.Trainable, t.names))
	}
	if ckOpt := cmp.Or(st.Optimizer, OptimizerAdamW); ckOpt != t.opts.Optimizer.name() {
		return incompatible("checkpoint %s was made with optimizer %s, the job asks for %s", dir, ckOpt, t.opts.Optimizer.name())
	}
	if st.EightBit != t.opts.Optimizer.EightBit {
		return incompatible("checkpoint %s used optimizer state eight_bit=%v, the job asks for %v", dir, st.EightBit, t.opts.Optimizer.EightBit)
	}
	adapter, err := weights.ReadTensors(filepath.Join(dir, "adapter.safetensors"), t.names)
	if err != nil {
		return err
	}
	for i, n := range t.names {
		want := t.model.Variable(n).Shape()
		if !adapter[i].Shape().Equal(want) {
			return incompatible("checkpoint %s: %s has shape %v, the model's is %v", dir, n, adapter[i].Shape(), want)
		}
	}
	optNames := t.opt.StateNames()
	optPath := filepath.Join(dir, "optimizer.safetensors")
	if same, err := sameTensorNames(optPath, optNames); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err) // unreadable: damaged, not a settings change
	} else if same != nil {
		return incompatible("checkpoint %s: %v (optimizer settings changed, e.g. train.adafactor_beta1 on or off?)", dir, same)
	}
	opt, err := weights.ReadTensors(optPath, optNames)
	if err != nil {
		return err
	}
	ost := &OptimizerState{Step: st.OptStep, Names: optNames, Tensors: opt, Scalars: st.OptScalars}
	if err := stateCheck(t.opts.Optimizer.name(), ost, t.opt.State()); err != nil {
		return incompatible("checkpoint %s: %v", dir, err)
	}
	var ema []*tensors.Tensor
	if t.ema != nil {
		if !st.EMA {
			return incompatible("checkpoint %s has no EMA but the job enables it", dir)
		}
		if ema, err = weights.ReadTensors(filepath.Join(dir, "ema.safetensors"), t.names); err != nil {
			return err
		}
	}
	if err := t.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("checkpoint %s: RNG state: %w", dir, err)
	}
	if err := t.src.Restore(st.Data); err != nil {
		return &incompatibleError{fmt.Errorf("checkpoint %s: data position: %w", dir, err)}
	}
	for i, n := range t.names {
		if err := t.model.SetVariable(n, adapter[i], true); err != nil {
			return err
		}
	}
	if err := t.opt.SetState(ost); err != nil {
		return incompatible("checkpoint %s: %v", dir, err)
	}
	t.ema = ema
	t.step = st.Step
	t.smooth = Smoother{}
	if st.Smooth != nil {
		t.smooth.value, t.smooth.n = st.Smooth.Value, st.Smooth.N
	}
	t.elapsed = time.Duration(st.Elapsed * float64(time.Second))
	return nil
}

// CheckpointBytes is the planned size of one checkpoint of this trainer on
// disk (tensors plus a margin for headers and state.json).
func (t *Trainer) CheckpointBytes() int64 {
	var n int64
	add := func(ts ...*tensors.Tensor) {
		for _, x := range ts {
			if x != nil {
				n += int64(x.Shape().Memory()) + 1<<10
			}
		}
	}
	for _, name := range t.names {
		n += int64(t.model.Variable(name).Shape().Memory()) + 1<<10
	}
	add(t.opt.State().Tensors...)
	add(t.ema...)
	return n + 64<<10
}

// ErrIncompatible marks a checkpoint that is intact but does not fit the
// job (another adapter, optimizer or dataset), as opposed to a damaged one.
var ErrIncompatible = errors.New("checkpoint does not match the job")

type incompatibleError struct{ err error }

func (e *incompatibleError) Error() string        { return e.err.Error() }
func (e *incompatibleError) Unwrap() error        { return e.err }
func (e *incompatibleError) Is(target error) bool { return target == ErrIncompatible }

func incompatible(format string, args ...any) error {
	return &incompatibleError{fmt.Errorf(format, args...)}
}

// sameTensorNames compares the tensors of the safetensors file at path with
// names: differ says how they differ (nil: the same); err is set when the
// file cannot be read (a damaged checkpoint, not a settings change).
func sameTensorNames(path string, names []string) (differ, err error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	have := f.Names()
	if len(have) != len(names) {
		return fmt.Errorf("optimizer state has %d tensors, the job's optimizer %d", len(have), len(names)), nil
	}
	for _, n := range names {
		if _, ok := f.Info(n); !ok {
			return fmt.Errorf("optimizer state has no tensor %s", n), nil
		}
	}
	return nil, nil
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d vs %d names", len(a), len(b))
	}
	return "none"
}

// ListCheckpoints returns the checkpoint folders under root, oldest first.
func ListCheckpoints(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	type ck struct {
		step int
		path string
	}
	var cks []ck
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, checkpointPrefix) {
			continue
		}
		step, err := strconv.Atoi(strings.TrimPrefix(name, checkpointPrefix))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, name, "state.json")); err != nil {
			continue // incomplete (never renamed into place) or damaged
		}
		cks = append(cks, ck{step, filepath.Join(root, name)})
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].step < cks[j].step })
	out := make([]string, len(cks))
	for i, c := range cks {
		out[i] = c.path
	}
	return out, nil
}

// PruneCheckpoints deletes all but the newest keep checkpoints (keep ≤ 0
// keeps all).
func PruneCheckpoints(root string, keep int) error {
	if keep <= 0 {
		return nil
	}
	all, err := ListCheckpoints(root)
	if err != nil {
		return err
	}
	for i := 0; i+keep < len(all); i++ {
		if err := os.RemoveAll(all[i]); err != nil {
			return fmt.Errorf("removing old checkpoint: %w", err)
		}
	}
	return nil
}
