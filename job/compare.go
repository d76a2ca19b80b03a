package job

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// ResumeKeys are the settings that change the optimisation when they differ
// between a checkpoint's run and the run resuming it (a resume on changed
// settings is allowed, but said).
var ResumeKeys = []string{
	"model.dtype", "model.quantize", "model.quantize_keep",
	"train.steps", "train.batch_size", "train.grad_accum", "train.lr", "train.optimizer", "train.beta1", "train.beta2",
	"train.eps", "train.weight_decay", "train.schedule", "train.warmup_steps", "train.min_lr", "train.max_grad_norm",
	"train.timesteps", "train.logit_mean", "train.logit_std", "train.sigmoid_scale", "train.loss_weighting",
	"train.guidance", "train.ema_decay", "train.seed",
	"train.prodigy_d0", "train.prodigy_d_coef", "train.prodigy_beta3", "train.prodigy_growth_rate",
	"train.prodigy_use_bias_correction", "train.prodigy_safeguard_warmup", "train.prodigy_decouple",
	"train.adafactor_relative_step", "train.adafactor_scale_parameter", "train.adafactor_warmup_init",
	"train.adafactor_clip_threshold", "train.adafactor_decay_rate", "train.adafactor_beta1",
	"train.adafactor_eps1", "train.adafactor_eps2",
	"dataset.resolutions", "dataset.caption_dropout", "dataset.reference_dropout", "dataset.trigger",
	"dataset.mask_min", "dataset.mask_from_alpha",
}

// Change is one setting that differs between two configurations.
type Change struct {
	Key, Old, New string
}

// String formats the change as "key: old → new".
func (c Change) String() string { return fmt.Sprintf("%s: %s → %s", c.Key, c.Old, c.New) }

// ParseRecorded reads a configuration recorded by an earlier run (in a
// checkpoint) without validating it: it may predate today's rules.
func ParseRecorded(text string) (*Config, error) {
	cfg := Default()
	if err := yaml.Unmarshal([]byte(text), cfg); err != nil {
		return nil, fmt.Errorf("reading the recorded job config: %w", err)
	}
	return cfg, nil
}

// Changes lists the keys (dotted paths, as in --set) whose values differ
// between old and new.
func Changes(old, new *Config, keys []string) []Change {
	var out []Change
	for _, k := range keys {
		a, okA := valueAt(reflect.ValueOf(old).Elem(), k)
		b, okB := valueAt(reflect.ValueOf(new).Elem(), k)
		if !okA || !okB {
			continue
		}
		if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
			continue // nil and empty lists are the same setting
		}
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			out = append(out, Change{Key: k, Old: show(a), New: show(b)})
		}
	}
	return out
}

// valueAt finds the struct field at a dotted path of yaml names.
func valueAt(v reflect.Value, key string) (reflect.Value, bool) {
	for _, part := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); name == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return fmt.Sprintf("%q", v.String())
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return "[]"
	}
	return fmt.Sprint(v.Interface())
}
