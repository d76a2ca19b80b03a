package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/gomlx/gomlx/backends"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/train"
)

// RunOptions say how Train runs a job.
type RunOptions struct {
	// Backend overrides model.backend: auto, go, xla:cpu, xla:cuda.
	Backend string
	// MemoryBudget is the device memory to plan for in bytes (0: the
	// device's, when known); the plan resolves activation offload and block
	// swap against it, and a job that does not fit is refused.
	MemoryBudget int64
	// Resume continues from a checkpoint folder, or with "auto" from the
	// newest intact checkpoint in output.dir ("": a fresh run).
	Resume string
	// Overwrite removes an earlier run's outputs in output.dir (checkpoints,
	// previews, metrics, adapters; never the caches) instead of refusing to
	// mix two runs. It goes with a fresh run only.
	Overwrite bool
	// Reporter receives progress: messages, caching progress, training
	// steps, checkpoints and previews.
	Reporter
}

// Prepared is a checked and planned job, ready to train: nothing heavy has
// been loaded and nothing in output.dir removed yet.
type Prepared struct {
	cfg  *job.Config
	opts RunOptions
	be   backends.Backend
	info backend.Info
	// Plan is the job's memory plan against the device budget.
	Plan *JobPlan
	// Previous lists an earlier run's outputs that Overwrite will remove.
	Previous []string
	start    runStart
	// parallel is train.devices resolved against the backend.
	parallel flux2.ParallelOptions
}

// Prepare checks a validated job before any heavy work — inputs exist, the
// output folder is writable and outside the dataset, a resume target is a
// checkpoint, no earlier run is mixed in — opens the backend and plans the
// job's device memory.
func Prepare(cfg *job.Config, opts RunOptions) (*Prepared, error) {
	if opts.Overwrite && opts.Resume != "" {
		return nil, errors.New("overwrite starts the run again and resume continues it: give one of them")
	}
	if err := preflight(cfg); err != nil {
		return nil, err
	}
	p := &Prepared{cfg: cfg, opts: opts, start: runStart{resume: opts.Resume}}
	var err error
	if p.start.candidates, err = resumeCandidates(cfg.Output.Dir, opts.Resume); err != nil {
		return nil, err
	}
	if opts.Resume == "" {
		if p.Previous, err = checkPreviousRun(cfg, opts.Overwrite); err != nil {
			return nil, err
		}
	}
	if p.be, p.info, err = selectBackend(cfg, opts.Backend, opts.Reporter); err != nil {
		return nil, err
	}
	p.start.backend = p.info.Name
	if p.parallel, err = ParallelOptions(cfg, p.be.NumDevices()); err != nil {
		return nil, err
	}
	if cfg.Train.Devices == "all" { // the plan counts devices
		c := *cfg
		c.Train.Devices = strconv.Itoa(p.parallel.Devices)
		p.cfg = &c
	}
	if p.Plan, err = Plan(p.cfg, deviceBudget(p.info, opts.MemoryBudget)); err != nil {
		return nil, err
	}
	return p, nil
}

// TrainResult is what a finished (or stopped) run did.
type TrainResult struct {
	// Summary holds the run's steps, losses, last checkpoint and exported
	// adapter files.
	Summary *train.RunSummary
	// OutDir is the run folder.
	OutDir string
	// Interrupted is set when ctx was cancelled: a checkpoint was saved and
	// the run continues with Resume "auto".
	Interrupted bool
}

// Train runs the prepared job until its last step or until ctx is
// cancelled. It refuses a job that does not fit the budget, removes an
// earlier run's outputs when asked, then loads the model (encoders first:
// caches are filled and the text encoder released before the transformer
// loads), attaches the adapter, resumes when asked, and trains with
// checkpoints, previews and exports. The summary is returned with an error
// too, when the run got that far.
func (p *Prepared) Train(ctx context.Context) (*TrainResult, error) {
	if err := p.Plan.Check(); err != nil {
		return nil, err
	}
	if err := clearPreviousRun(p.Previous, p.opts.Reporter); err != nil {
		return nil, err
	}
	r, err := newRun(p.cfg, p.be, p.start, p.Plan.Input.MemoryOptions(), p.parallel, p.opts.Reporter)
	if err != nil {
		return nil, err
	}
	sum, err := r.Run(ctx)
	res := &TrainResult{Summary: sum, OutDir: p.cfg.Output.Dir, Interrupted: errors.Is(ctx.Err(), context.Canceled)}
	return res, err
}

// Train checks, plans and runs a validated job (Prepare, then
// Prepared.Train).
func Train(ctx context.Context, cfg *job.Config, opts RunOptions) (*TrainResult, error) {
	p, err := Prepare(cfg, opts)
	if err != nil {
		return nil, err
	}
	return p.Train(ctx)
}

// preflight checks what can be checked before any heavy work: input paths
// exist, the output folder lies outside the dataset and is writable.
func preflight(cfg *job.Config) error {
	var list []job.Problem
	if !bundle.IsEmbedded(cfg.Model.Path) {
		if _, err := os.Stat(cfg.Model.Path); err != nil {
			list = append(list, job.Problem{Path: "model.path", Msg: fmt.Sprintf("%v", err)})
		}
	}
	if e := cfg.Dataset.Embeddings; e != "" {
		if st, err := os.Stat(e); err != nil || st.IsDir() {
			list = append(list, job.Problem{Path: "dataset.embeddings", Msg: fmt.Sprintf("%s is not a file (a safetensors table of caption embeddings)", e)})
		}
	}
	for i, r := range cfg.Sample.References {
		if st, err := os.Stat(r); err != nil || st.IsDir() {
			list = append(list, job.Problem{Path: fmt.Sprintf("sample.references.%d", i), Msg: fmt.Sprintf("%s is not an image file", r)})
		}
	}
	for i, d := range cfg.Dataset.Folders {
		st, err := os.Stat(d.Path)
		if err != nil || !st.IsDir() {
			list = append(list, job.Problem{Path: fmt.Sprintf("dataset.folders.%d.path", i), Msg: fmt.Sprintf("%s is not a folder", d.Path)})
		}
	}
	if inData := outputInDataset(cfg); len(inData) > 0 {
		list = append(list, inData...)
	} else if err := os.MkdirAll(cfg.Output.Dir, 0o755); err != nil {
		list = append(list, job.Problem{Path: "output.dir", Msg: err.Error()})
	} else if probe, err := os.CreateTemp(cfg.Output.Dir, ".write-test.tmp-*"); err != nil {
		list = append(list, job.Problem{Path: "output.dir", Msg: "not writable: " + err.Error()})
	} else {
		probe.Close()
		os.Remove(probe.Name())
	}
	if len(list) > 0 {
		return &job.Problems{Source: "job", List: list}
	}
	return nil
}
