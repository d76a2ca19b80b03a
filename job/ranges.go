package job

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
)

// FloatRange is the allowed interval of a number setting. NaN and ±Inf are
// never allowed. The bounds are sanity limits: values beyond them are typos
// or would silently ruin a run (a NaN learning rate trains to NaN weights,
// an infinite guidance renders black images).
type FloatRange struct {
	Min, Max float64
	// MinOpen and MaxOpen exclude the bound itself ("> 0" rather than ">= 0").
	MinOpen, MaxOpen bool
	// Hint is appended to the message, e.g. "1e-4 is typical".
	Hint string
}

// String writes the interval in math notation: "(0, 1]".
func (r FloatRange) String() string {
	lo, hi := "[", "]"
	if r.MinOpen {
		lo = "("
	}
	if r.MaxOpen {
		hi = ")"
	}
	return fmt.Sprintf("%s%g, %g%s", lo, r.Min, r.Max, hi)
}

// Contains reports whether v is finite and inside the interval.
func (r FloatRange) Contains(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	if v < r.Min || (r.MinOpen && v == r.Min) {
		return false
	}
	if v > r.Max || (r.MaxOpen && v == r.Max) {
		return false
	}
	return true
}

// Check returns nil when v is allowed, or an error that says the allowed
// interval and the value given ("must be a finite number in (0, 1], got NaN").
// The caller prefixes the key or flag name.
func (r FloatRange) Check(v float64) error {
	if r.Contains(v) {
		return nil
	}
	what := "a number"
	if math.IsNaN(v) || math.IsInf(v, 0) {
		what = "a finite number"
	}
	msg := fmt.Sprintf("must be %s in %s, got %g", what, r, v)
	if r.Hint != "" {
		msg += " (" + r.Hint + ")"
	}
	return fmt.Errorf("%s", msg)
}

// FloatRanges lists the allowed interval of every number (float) setting of
// a job, by key path; "*" stands for a list index. Validate checks every
// float field of Config against this table, and a test checks that every
// float field has an entry, so a new setting cannot skip validation.
var FloatRanges = map[string]FloatRange{
	"adapter.alpha":                  {Min: 0, Max: 65536, Hint: "0 means alpha = rank"},
	"adapter.dropout":                {Min: 0, Max: 1, MaxOpen: true},
	"adapter.overrides.*.alpha":      {Min: 0, Max: 65536, Hint: "0 means alpha = rank"},
	"dataset.caption_dropout":        {Min: 0, Max: 1, Hint: "a probability; 0.05 is typical"},
	"dataset.folders.*.weight":       {Min: 0, Max: 100, Hint: "a loss weight; 0 means 1"},
	"dataset.reference_dropout":      {Min: 0, Max: 1, Hint: "a probability; 0 trains every step with the references"},
	"dataset.mask_min":               {Min: 0, Max: 1, Hint: "the loss weight outside a mask; 0 ignores the outside"},
	"train.lr":                       {Min: 0, Max: 1, MinOpen: true, Hint: "1e-4 is typical"},
	"train.beta1":                    {Min: 0, Max: 1, MaxOpen: true, Hint: "0.9 is typical"},
	"train.beta2":                    {Min: 0, Max: 1, MaxOpen: true, Hint: "0.999 is typical"},
	"train.eps":                      {Min: 0, Max: 1, MinOpen: true, Hint: "1e-8 is typical"},
	"train.weight_decay":             {Min: 0, Max: 1, Hint: "1e-4 to 1e-2 is typical"},
	"train.min_lr":                   {Min: 0, Max: 1, Hint: "at most train.lr"},
	"train.prodigy_d0":               {Min: 0, Max: 1, MinOpen: true, Hint: "1e-6 is prodigyopt's default"},
	"train.prodigy_d_coef":           {Min: 0, Max: 100, MinOpen: true, Hint: "1.0; 0.5 to 2 tunes Prodigy"},
	"train.prodigy_beta3":            {Min: 0, Max: 1, MaxOpen: true, Hint: "0 means sqrt(train.beta2)"},
	"train.prodigy_growth_rate":      {Min: 0, Max: 1e6, Hint: "0 means unlimited; 1.02 ramps d up slowly"},
	"train.adafactor_clip_threshold": {Min: 0, Max: 1e4, MinOpen: true, Hint: "1.0 is typical"},
	"train.adafactor_decay_rate":     {Min: -1, Max: 0, MaxOpen: true, Hint: "-0.8 is typical"},
	"train.adafactor_beta1":          {Min: 0, Max: 1, MaxOpen: true, Hint: "0: no first moment (transformers' None); 0.9 keeps one"},
	"train.adafactor_eps1":           {Min: 0, Max: 1, MinOpen: true, MaxOpen: true, Hint: "1e-30 is typical"},
	"train.adafactor_eps2":           {Min: 0, Max: 1, MinOpen: true, MaxOpen: true, Hint: "1e-3 is typical"},
	"train.max_grad_norm":            {Min: 0, Max: 1e4, Hint: "0 disables clipping; 1 is typical"},
	"train.logit_mean":               {Min: -10, Max: 10},
	"train.logit_std":                {Min: 0, Max: 10, MinOpen: true},
	"train.sigmoid_scale":            {Min: 0, Max: 100, MinOpen: true, Hint: "1 is typical"},
	"train.guidance":                 {Min: 0, Max: 100, Hint: "dev trains at 1.0"},
	"train.ema_decay":                {Min: 0, Max: 1, MaxOpen: true, Hint: "0 disables EMA; 0.999 is typical"},
	"sample.guidance":                {Min: 0, Max: 100, Hint: "the variant's default is 1 to 4"},
}

// Image sizes and sampling steps: shared by the job settings (sample.width,
// dataset.resolutions, sample.steps) and the flags of `flora sample`.
const (
	// ImageSideMultiple: FLUX.2 latents are 16× smaller than images (VAE ×8,
	// patch ×2), so image sides are multiples of 16.
	ImageSideMultiple = 16
	// MinImageSide and MaxImageSide bound an image side in pixels. 4096 is
	// 65,536 latent tokens, already past what FLUX.2 was trained on.
	MinImageSide = 64
	MaxImageSide = 4096
	// MaxSampleSteps bounds sampling steps (the published defaults are 4 to 50).
	MaxSampleSteps = 1000
)

// CheckImageSide returns nil for an allowed image side, or an error saying
// the rule and the nearest allowed side. The caller prefixes the key or flag.
func CheckImageSide(side int) error {
	if side >= MinImageSide && side <= MaxImageSide && side%ImageSideMultiple == 0 {
		return nil
	}
	fix := (side + ImageSideMultiple/2) / ImageSideMultiple * ImageSideMultiple
	fix = min(max(fix, MinImageSide), MaxImageSide)
	return fmt.Errorf("must be a multiple of %d in [%d, %d] (FLUX.2 latents are 16× smaller), got %d; try %d",
		ImageSideMultiple, MinImageSide, MaxImageSide, side, fix)
}

var indexRE = regexp.MustCompile(`\.[0-9]+(\.|$)`)

// floatRangeKey turns a key path with list indices into its FloatRanges
// key: "adapter.overrides.3.alpha" → "adapter.overrides.*.alpha".
func floatRangeKey(path string) string {
	for {
		next := indexRE.ReplaceAllString(path, ".*$1")
		if next == path {
			return path
		}
		path = next
	}
}

// floatFields calls fn with the key path and value of every float field of v
// (a struct), walking nested structs and lists of structs.
func floatFields(v reflect.Value, path string, fn func(path string, f float64)) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "-" {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			floatFields(v.Field(i), joinPath(path, tag), fn)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			floatFields(v.Index(i), fmt.Sprintf("%s.%d", path, i), fn)
		}
	case reflect.Float32, reflect.Float64:
		fn(path, v.Float())
	}
}

// checkFloats checks every float setting against FloatRanges.
func (c *Config) checkFloats(ps *Problems) {
	floatFields(reflect.ValueOf(c).Elem(), "", func(path string, f float64) {
		r, ok := FloatRanges[floatRangeKey(path)]
		if !ok {
			// A float field without a range is a programming error that
			// TestEveryFloatKeyHasARange catches; still refuse non-finite.
			r = FloatRange{Min: -math.MaxFloat64, Max: math.MaxFloat64}
		}
		if err := r.Check(f); err != nil {
			ps.add(path, "%v", err)
		}
	})
}
