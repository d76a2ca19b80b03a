package job

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Allowed values of the enumerated settings.
var (
	Variants          = []string{"auto", "dev", "klein-4b", "klein-9b", "klein-base-4b", "klein-base-9b", "tiny"}
	QuantizeSchemes   = []string{"none", "int8", "fp8", "nf4"}
	ComputeDTypes     = []string{"bf16", "f32"}
	TargetPresets     = []string{"blocks", "attention", "attention+mlp", "all"}
	Optimizers        = []string{"adamw", "adamw8bit", "prodigy", "adafactor"}
	Schedules         = []string{"constant", "linear", "cosine"}
	TimestepSamplings = []string{"flux2_shift", "uniform", "logit_normal", "sigmoid", "weighted"}
	LossWeightings    = []string{"none", "sigma_sqrt", "cosmap"}
	AutoOnOff         = []string{"auto", "on", "off"}
	CropModes         = []string{"center", "random"}
	ExportFormats     = []string{"comfy", "diffusers", "kohya"}
)

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// Validate checks every setting and returns a *Problems error listing all
// problems found, each with its key path and the fix, or nil.
func (c *Config) Validate() error {
	ps := &Problems{}
	v := validator{ps}

	validateName(ps, c.Name)
	v.oneOf("kind", c.Kind, Kinds)
	if c.IsAutoencoder() {
		validateAutoencoder(ps, c)
	}

	m := &c.Model
	if strings.TrimSpace(m.Path) == "" && !c.IsAutoencoder() {
		ps.add("model.path", "is required: an official FLUX.2 .safetensors file, a diffusers model folder, or a built-in model (embedded:nano, embedded:tiny, embedded:nano-init)")
	}
	v.oneOf("model.variant", m.Variant, Variants)
	if strings.HasPrefix(m.Path, "embedded:") && m.Variant != "auto" && slices.Contains(Variants, m.Variant) {
		ps.add("model.variant", "must be auto for the built-in model %s (it is its own variant), got %q", m.Path, m.Variant)
	}
	v.oneOf("model.quantize", m.Quantize, QuantizeSchemes)
	v.oneOf("model.text_encoder_quantize", m.TextEncoderQuantize, QuantizeSchemes)
	for i, p := range m.QuantizeKeep {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			ps.add(fmt.Sprintf("model.quantize_keep.%d", i), "must be a module pattern like \"final_layer.*\" (path.Match syntax), got %q", p)
		}
	}
	if n, err := strconv.Atoi(m.BlocksOnHost); m.BlocksOnHost != "auto" && (err != nil || n < 0) {
		ps.add("model.blocks_on_host", "must be auto or a number of blocks >= 0 (0 keeps every block on the device), got %q", m.BlocksOnHost)
	}
	v.oneOf("model.dtype", m.DType, ComputeDTypes)
	if !validBackend(m.Backend) {
		ps.add("model.backend", "must be auto, go, xla:cpu, xla:cuda or xla:/abs/path/plugin.so, got %q", m.Backend)
	}

	a := &c.Adapter
	v.oneOf("adapter.type", a.Type, AdapterTypes)
	if a.Type == AdapterFull {
		validateFull(c, ps)
	}
	if a.Type == "lokr" {
		if a.Factor < -1 || a.Factor == 1 {
			ps.add("adapter.factor", "must be -1 (balanced split) or a factor >= 2, got %d", a.Factor)
		}
	} else if a.Factor != 0 || a.FullMatrix != nil {
		ps.add("adapter.factor", "and adapter.full_matrix apply to adapter.type lokr only (type is %q): remove them or set type: lokr", a.Type)
	}
	v.intRange("adapter.rank", a.Rank, 1, 4096)
	v.oneOf("adapter.targets", a.Targets, TargetPresets)
	for i, p := range a.Include {
		v.pattern(fmt.Sprintf("adapter.include.%d", i), p)
	}
	for i, p := range a.Exclude {
		v.pattern(fmt.Sprintf("adapter.exclude.%d", i), p)
	}
	for i, o := range a.Overrides {
		key := fmt.Sprintf("adapter.overrides.%d", i)
		v.pattern(key+".pattern", o.Pattern)
		v.intRange(key+".rank", o.Rank, 1, 4096)
	}

	d := &c.Dataset
	if len(d.Folders) == 0 {
		ps.add("dataset.folders", "needs at least one folder, e.g. folders: [{path: data/my-images}]")
	}
	for i, f := range d.Folders {
		key := fmt.Sprintf("dataset.folders.%d", i)
		if strings.TrimSpace(f.Path) == "" {
			ps.add(key+".path", "is required")
		}
		if f.Repeats < 0 {
			ps.add(key+".repeats", "must be >= 0 (0 = from the folder name or 1), got %d", f.Repeats)
		}
		if f.Control != "" && filepath.Clean(f.Control) == filepath.Clean(f.Path) {
			ps.add(key+".control", "is the image folder itself; give the separate folder of reference images (e.g. control/ next to the images)")
		}
		if f.Masks != "" && filepath.Clean(f.Masks) == filepath.Clean(f.Path) {
			ps.add(key+".masks", "is the image folder itself; give the separate folder of masks (e.g. masks/ next to the images)")
		}
		if f.Masks != "" && f.Control != "" && filepath.Clean(f.Masks) == filepath.Clean(f.Control) {
			ps.add(key+".masks", "is the control folder; give the masks their own folder")
		}
	}
	if d.Validation != "" {
		for i, f := range d.Folders {
			if filepath.Clean(d.Validation) == filepath.Clean(f.Path) {
				ps.add("dataset.validation", "is training folder dataset.folders.%d (%s); give a separate folder of held-out images, or remove the key to measure on the training images", i, f.Path)
			}
		}
	}
	if d.KeepTokens < 0 {
		ps.add("dataset.keep_tokens", "must be >= 0, got %d", d.KeepTokens)
	}
	if len(d.Resolutions) == 0 {
		ps.add("dataset.resolutions", "needs at least one resolution, e.g. [512, 768, 1024]")
	}
	for i, r := range d.Resolutions {
		if c.IsAutoencoder() { // crop sides; the trainer checks them against the autoencoder's latent grid
			v.intRange(fmt.Sprintf("dataset.resolutions.%d", i), r, 8, 4096)
			continue
		}
		v.sideMultiple16(fmt.Sprintf("dataset.resolutions.%d", i), r)
	}
	v.intRange("dataset.min_side", d.MinSide, 1, 1<<16)
	v.oneOf("dataset.crop", d.Crop, CropModes)
	if d.Background != "white" && d.Background != "black" && !colorRE.MatchString(d.Background) {
		ps.add("dataset.background", "must be white, black or #rrggbb, got %q", d.Background)
	}

	t := &c.Train
	v.intRange("train.steps", t.Steps, 1, 1<<30)
	v.intRange("train.batch_size", t.BatchSize, 1, 1024)
	v.intRange("train.grad_accum", t.GradAccum, 1, 1024)
	v.oneOf("train.optimizer", t.Optimizer, Optimizers)
	validateOptimizer(ps, t)
	v.oneOf("train.schedule", t.Schedule, Schedules)
	if t.WarmupSteps < 0 || (t.Steps > 0 && t.WarmupSteps >= t.Steps) {
		ps.add("train.warmup_steps", "must be in [0, train.steps=%d), got %d", t.Steps, t.WarmupSteps)
	}
	// Only compare lr and min_lr when both are valid on their own: a NaN
	// or out-of-range lr is reported as a train.lr problem, not min_lr's.
	if lr, minLR := FloatRanges["train.lr"], FloatRanges["train.min_lr"]; lr.Contains(t.LR) && minLR.Contains(t.MinLR) && t.MinLR > t.LR {
		ps.add("train.min_lr", "must be <= train.lr (%g), got %g", t.LR, t.MinLR)
	}
	v.oneOf("train.timesteps", t.Timesteps, TimestepSamplings)
	v.oneOf("train.loss_weighting", t.LossWeighting, LossWeightings)
	v.oneOf("train.gradient_checkpointing", t.GradientCheckpointing, AutoOnOff)
	v.oneOf("train.offload_activations", t.OffloadActivations, AutoOnOff)
	validateDevices(ps, c)
	if t.SaveEvery < 0 {
		ps.add("train.save_every", "must be >= 0 (0 = only at the end), got %d", t.SaveEvery)
	}
	if t.KeepLast < 0 {
		ps.add("train.keep_last", "must be >= 0 (0 = keep all), got %d", t.KeepLast)
	}

	s := &c.Sample
	if s.Every < 0 {
		ps.add("sample.every", "must be >= 0 (0 disables previews), got %d", s.Every)
	}
	if s.Every > 0 && len(s.Prompts) == 0 {
		ps.add("sample.prompts", "needs at least one prompt when sample.every > 0 (or set sample.every: 0)")
	}
	if s.Every > 0 && len(s.Seeds) == 0 {
		ps.add("sample.seeds", "needs at least one seed when sample.every > 0")
	}
	v.intRange("sample.steps", s.Steps, 1, MaxSampleSteps)
	v.sideMultiple16("sample.width", s.Width)
	v.sideMultiple16("sample.height", s.Height)

	o := &c.Output
	if strings.TrimSpace(o.Dir) == "" {
		ps.add("output.dir", "is required, e.g. runs/my-lora")
	}
	if len(o.Formats) == 0 {
		ps.add("output.formats", "needs at least one of %s", strings.Join(ExportFormats, ", "))
	}
	for i, f := range o.Formats {
		v.oneOf(fmt.Sprintf("output.formats.%d", i), f, ExportFormats)
	}
	c.checkFloats(ps)
	return ps.err()
}

// MaxNameLength bounds the job name: it names the output files, and with
// the longest suffix (".diffusers.safetensors") and a temporary-file prefix
// the file names must stay within the 255 bytes file systems allow.
const MaxNameLength = 128

// reservedNames are device names Windows refuses as file names (with any
// extension).
var reservedNames = regexp.MustCompile(`(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)`)

// validateName checks the job name, which names the output files.
func validateName(ps *Problems, name string) {
	switch {
	case len(name) > MaxNameLength:
		ps.add("name", "is %d characters long; at most %d (it names the output files)", len(name), MaxNameLength)
	case !nameRE.MatchString(name):
		ps.add("name", "must be letters, digits, '.', '_' or '-', starting with a letter or digit (it names the output files), got %q", name)
	case reservedNames.MatchString(name):
		ps.add("name", "%q is a reserved device name on Windows; choose another (it names the output files)", name)
	}
}

func validBackend(b string) bool {
	switch b {
	case "auto", "go", "xla:cpu", "xla:cuda":
		return true
	}
	return strings.HasPrefix(b, "xla:/") && strings.HasSuffix(b, ".so")
}

// validator adds typed checks to a Problems list.
type validator struct{ ps *Problems }

func (v validator) oneOf(key, got string, allowed []string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.ps.add(key, "must be one of %s, got %q", strings.Join(allowed, ", "), got)
}

func (v validator) intRange(key string, got, lo, hi int) {
	if got < lo || got > hi {
		if hi >= 1<<16 {
			v.ps.add(key, "must be >= %d, got %d", lo, got)
			return
		}
		v.ps.add(key, "must be in [%d, %d], got %d", lo, hi, got)
	}
}

// sideMultiple16 checks an image side (see CheckImageSide).
func (v validator) sideMultiple16(key string, got int) {
	if err := CheckImageSide(got); err != nil {
		v.ps.add(key, "%v", err)
	}
}

func (v validator) pattern(key, p string) {
	if strings.TrimSpace(p) == "" {
		v.ps.add(key, "must not be empty")
		return
	}
	if _, err := path.Match(p, ""); err != nil {
		v.ps.add(key, "is not a valid pattern (%v): %q", err, p)
	}
}

// validateDevices checks train.devices and what several devices exclude.
func validateDevices(ps *Problems, c *Config) {
	t := &c.Train
	n, numeric := t.DeviceCount()
	if !numeric && t.Devices != "all" {
		ps.add("train.devices", "must be a number of devices >= 1 or all, got %q", t.Devices)
		return
	}
	if numeric && t.BatchSize > 0 && t.BatchSize%n != 0 {
		ps.add("train.batch_size", "must be a multiple of train.devices=%d (each device runs batch_size/devices samples), got %d", n, t.BatchSize)
	}
	if t.ShardBase && numeric && n == 1 {
		ps.add("train.shard_base", "needs train.devices > 1 (one device holds the whole base)")
	}
	if numeric && n == 1 {
		return
	}
	// Gradient checkpointing runs on several devices; activation offload
	// and block swap do not yet.
	if t.OffloadActivations == "on" {
		ps.add("train.offload_activations", "cannot be on with train.devices=%s yet; set it to off (or auto)", t.Devices)
	}
	if b, err := strconv.Atoi(c.Model.BlocksOnHost); err == nil && b > 0 {
		ps.add("model.blocks_on_host", "must be 0 or auto with train.devices=%s (block swap does not combine with several devices yet)", t.Devices)
	}
}

// DeviceCount returns train.devices as a number (false for "all" or a
// value that is not a positive number).
func (t TrainConfig) DeviceCount() (int, bool) {
	n, err := strconv.Atoi(t.Devices)
	return n, err == nil && n >= 1
}

// validateOptimizer checks the settings that depend on the optimizer: the
// learning rates Prodigy and relative-step Adafactor take differently from
// AdamW, and Adafactor's and Prodigy's combinations.
func validateOptimizer(ps *Problems, t *TrainConfig) {
	lrOK := FloatRanges["train.lr"].Contains(t.LR)
	switch t.Optimizer {
	case "prodigy":
		if lrOK && t.LR < 0.1 {
			ps.add("train.lr", "is %g, but prodigy estimates the step size itself and lr only multiplies it: set train.lr: 1.0 "+
				"(tune with train.prodigy_d_coef, 0.5 to 2, rather than lr)", t.LR)
		}
		if g := t.ProdigyGrowthRate; g > 0 && g < 1 {
			ps.add("train.prodigy_growth_rate", "must be 0 (unlimited) or >= 1 (1.02 ramps d up slowly), got %g", g)
		}
	case "adafactor":
		if t.AdafactorWarmupInit && !t.AdafactorRelativeStep {
			ps.add("train.adafactor_warmup_init", "needs train.adafactor_relative_step: true (as in transformers' Adafactor)")
		}
		if t.AdafactorRelativeStep {
			if t.Schedule != "constant" || t.WarmupSteps != 0 {
				ps.add("train.schedule", "is %s with %d warmup steps, but adafactor_relative_step uses Adafactor's own step size "+
					"min(1e-2, 1/sqrt(step)) and no lr or schedule: set train.schedule: constant and train.warmup_steps: 0, "+
					"or train.adafactor_relative_step: false to use train.lr", t.Schedule, t.WarmupSteps)
			}
		} else if lrOK && t.LR > 0.1 {
			ps.add("train.lr", "is %g, far above adafactor's usual 1e-4 to 1e-2 (lr 1.0 is for prodigy): set e.g. train.lr: 1e-3, "+
				"or train.adafactor_relative_step: true to let Adafactor choose its step size", t.LR)
		}
	}
}
