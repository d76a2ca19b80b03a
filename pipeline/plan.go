package pipeline

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
	"github.com/flora-ml/flora/train"
)

// JobPlan is a job's variant and device-memory estimate, with its automatic
// host-memory settings resolved against the device budget.
type JobPlan struct {
	// Variant is the FLUX.2 variant the job trains.
	Variant flux2.Variant
	// Input is what the estimate is made of, host-memory settings resolved.
	Input train.MemoryPlanInput
	// Modes are the job's host-memory settings as written.
	Modes train.MemoryModes
	// Memory is the estimate of the training step.
	Memory train.MemoryPlan
	// Budget is the device memory planned for in bytes (0: unknown).
	Budget int64
	// TextEncoderBytes is the estimated device memory of caching the
	// captions (before training, in its own phase; 0 for the embedded
	// model); TextEncoderName names the encoder and its storage.
	TextEncoderBytes int64
	TextEncoderName  string
}

// Plan plans a job's device memory without loading any weights (the variant
// is read from the checkpoint's header), resolving the automatic
// host-memory settings (activation offload, block swap) against budget in
// bytes (0: unknown, nothing is moved to host memory automatically).
func Plan(cfg *job.Config, budget int64) (*JobPlan, error) {
	v, err := bundle.InspectVariant(cfg.Model.Path, cfg.Model.Variant)
	if err != nil {
		return nil, err
	}
	var targets []lora.Target
	if !isFull(cfg) {
		if targets, err = AdapterSpec(cfg).Plan(v.Config); err != nil {
			return nil, fmt.Errorf("adapter: %w", err)
		}
	}
	q, err := QuantOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := TrainOptions(cfg, v)
	if err != nil {
		return nil, err
	}
	res := 0
	for _, r := range cfg.Dataset.Resolutions {
		res = max(res, r)
	}
	cb := ComputeDType(cfg).Size()
	in := train.MemoryPlanInput{Config: v.Config, Quant: q, ComputeBytes: cb, Targets: targets, EightBitAdam: opts.Optimizer.EightBit,
		Optimizer:  &opts.Optimizer,
		Resolution: res, TextTokens: 512, Batch: cfg.Train.BatchSize, Checkpointing: opts.Checkpointing, FullTraining: isFull(cfg)}
	in.ReferenceImages = plannedReferences(cfg)
	if n, ok := cfg.Train.DeviceCount(); ok && n > 1 { // "all" is resolved by Prepare
		in.Devices, in.ShardBase = n, cfg.Train.ShardBase
	}
	modes := MemoryModes(cfg)
	if in, err = modes.Fit(in, budget); err != nil {
		return nil, err
	}
	p := &JobPlan{Variant: v, Input: in, Modes: modes, Memory: train.EstimateMemory(in), Budget: budget}
	if isFull(cfg) {
		if err := checkFullTraining(v, p.Memory); err != nil {
			return nil, err
		}
	}
	if spec, err := textenc.SpecForVariant(v.Name); err == nil && !bundle.IsEmbedded(cfg.Model.Path) && cfg.Dataset.Embeddings == "" {
		tq := quant.Scheme(cfg.Model.TextEncoderQuantize)
		p.TextEncoderBytes = spec.EncodeBytes(tq, cb, 8, spec.MaxLength)
		name := string(tq)
		if tq == "" {
			name = "none"
		}
		p.TextEncoderName = fmt.Sprintf("%s, %s", spec.Name, name)
	}
	return p, nil
}

// Fits reports whether training and caption caching both fit the budget
// (true when the budget is unknown).
func (p *JobPlan) Fits() bool {
	return p.Budget <= 0 || p.Memory.Total <= p.Budget && p.TextEncoderBytes <= p.Budget
}

// TrainingVerdict says whether the training step fits the budget, and if
// not, what would make it fit.
func (p *JobPlan) TrainingVerdict() string {
	if p.Memory.Total <= p.Budget {
		return "fits"
	}
	s := train.Suggest(p.Input, p.Budget)
	if len(s) == 0 {
		return "does not fit, and no single change makes it fit: use a larger GPU"
	}
	return "does not fit; to fit: " + strings.Join(s, "; or ")
}

// TextEncoderVerdict says whether caption caching fits the budget.
func (p *JobPlan) TextEncoderVerdict() string {
	if p.TextEncoderBytes <= p.Budget {
		return "fits"
	}
	return "does not fit; set model.text_encoder_quantize: nf4 (or int8), or fill the caches on a larger GPU with `flora data cache`"
}

// Check is nil when the job fits its budget, else an error saying by how
// much it does not and what would make it fit.
func (p *JobPlan) Check() error {
	gib := func(n int64) float64 { return float64(n) / (1 << 30) }
	if p.Budget > 0 && p.Memory.Total > p.Budget {
		return fmt.Errorf("the job needs an estimated %.1f GiB but the device has %.1f GiB; %s",
			gib(p.Memory.Total), gib(p.Budget), p.TrainingVerdict())
	}
	if p.Budget > 0 && p.TextEncoderBytes > p.Budget {
		return fmt.Errorf("caching the captions with %s needs an estimated %.1f GiB but the device has %.1f GiB: %s",
			p.TextEncoderName, gib(p.TextEncoderBytes), gib(p.Budget), p.TextEncoderVerdict())
	}
	return nil
}

// WriteGrid writes the job's plan at the usual resolutions (and its own)
// and every base scheme, marking what fits the budget, so one dry run
// shows the options.
func (p *JobPlan) WriteGrid(w io.Writer) error {
	res := train.GridResolutions
	if !slices.Contains(res, p.Input.Resolution) {
		res = append(slices.Clone(res), p.Input.Resolution)
		slices.Sort(res)
	}
	ckpt := "off"
	if p.Input.Checkpointing {
		ckpt = "on"
	}
	grid, err := train.PlanGrid(p.Input, p.Modes, p.Budget, res, train.GridSchemes)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "planned device memory of this job at other resolutions and base schemes (checkpointing %s", ckpt)
	if p.Budget > 0 {
		fmt.Fprintf(w, "; ✓ fits %.3g GiB", float64(p.Budget)/(1<<30))
	}
	fmt.Fprintf(w, "):\n%s", train.FormatPlanGrid(grid, res, train.GridSchemes, p.Budget))
	return nil
}

// hostMemoryNote describes what the step keeps in host memory, if anything.
func hostMemoryNote(m flux2.MemoryOptions) string {
	var parts []string
	if m.OffloadActivations {
		parts = append(parts, "saved activations offloaded to host memory")
	}
	if m.BlocksOnHost > 0 {
		parts = append(parts, fmt.Sprintf("%d blocks streamed from host memory (block swap)", m.BlocksOnHost))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// selectBackend opens the compute backend: spec, else the job's
// model.backend (cfg may be nil), else $FLORA_BACKEND or auto. It reports
// which one and why.
func selectBackend(cfg *job.Config, spec string, rep Reporter) (backends.Backend, backend.Info, error) {
	if spec == "" && cfg != nil {
		spec = cfg.Model.Backend
	}
	be, info, err := backend.Select(spec)
	if err != nil {
		return nil, info, err
	}
	rep.printf("%s", info)
	return be, info, nil
}

// deviceBudget is the memory a job may use in bytes: given (when > 0), else
// the GPU's when the backend is CUDA, else 0 (unknown).
func deviceBudget(info backend.Info, given int64) int64 {
	if given > 0 {
		return given
	}
	if info.Name == "xla:cuda" {
		return backend.GPUMemory()
	}
	return 0
}

// plannedReferences is the number of reference images per sample the plan
// counts before the dataset is scanned: the preview's references when
// given, else one when a folder has a control folder.
func plannedReferences(cfg *job.Config) int {
	if n := len(cfg.Sample.References); n > 0 {
		return n
	}
	for _, f := range cfg.Dataset.Folders {
		if f.Control != "" {
			return 1
		}
	}
	return 0
}
