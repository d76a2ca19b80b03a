package job

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
)

const minimal = `
model:
  path: models/flux2-dev.safetensors
dataset:
  folders:
    - path: data/style
`

func TestParseMinimalKeepsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "/jobs/a.yaml", nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Default()
	want.Model.Path = "/jobs/models/flux2-dev.safetensors"
	want.Dataset.Folders = []DatasetFolder{{Path: "/jobs/data/style"}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		sets []string
		want []string // every one must appear in the error
	}{
		{
			name: "unknown key with suggestion",
			yaml: minimal + "train:\n  lrr: 1e-4\n",
			want: []string{`train.lrr: unknown key (line 8); did you mean "train.lr"?`},
		},
		{
			name: "unknown top-level key lists valid keys",
			yaml: minimal + "zzz: 1\n",
			want: []string{"zzz: unknown key", "valid keys: adapter, dataset, kind, model, name, output, sample, train"},
		},
		{
			name: "all problems at once",
			yaml: minimal + "train:\n  lr: -1\n  steps: 0\n  lrr: 3\nadapter:\n  rank: 0\n  targets: everything\n",
			want: []string{
				"train.lrr: unknown key",
				"train.lr: must be a number in (0, 1], got -1",
				"train.steps: must be >= 1, got 0",
				"adapter.rank: must be in [1, 4096], got 0",
				`adapter.targets: must be one of blocks, attention, attention+mlp, all, got "everything"`,
			},
		},
		{
			name: "type errors with path",
			yaml: minimal + "train:\n  lr: fast\n  batch_size: 1.5\n",
			want: []string{"train.lr: must be a number", "train.batch_size: must be an integer"},
		},
		{
			name: "quantization settings",
			yaml: minimal,
			sets: []string{"model.text_encoder_quantize=int3", `model.quantize_keep=["final_layer.*", "[bad"]`},
			want: []string{
				`model.text_encoder_quantize: must be one of none, int8, fp8, nf4, got "int3"`,
				`model.quantize_keep.1: must be a module pattern`,
			},
		},
		{
			name: "host-memory settings",
			yaml: minimal,
			sets: []string{"model.blocks_on_host=lots", "train.offload_activations=yes"},
			want: []string{
				`model.blocks_on_host: must be auto or a number of blocks >= 0 (0 keeps every block on the device), got "lots"`,
				`train.offload_activations: must be one of auto, on, off, got "yes"`,
			},
		},
		{
			name: "several devices",
			yaml: minimal,
			sets: []string{"train.devices=3", "train.batch_size=4", "train.gradient_checkpointing=on", "train.offload_activations=on", "model.blocks_on_host=2"},
			want: []string{
				"train.batch_size: must be a multiple of train.devices=3 (each device runs batch_size/devices samples), got 4",
				"train.offload_activations: cannot be on with train.devices=3 yet; set it to off (or auto)",
				"model.blocks_on_host: must be 0 or auto with train.devices=3",
			},
		},
		{
			name: "device count",
			yaml: minimal,
			sets: []string{"train.devices=some", "train.shard_base=true"},
			want: []string{`train.devices: must be a number of devices >= 1 or all, got "some"`},
		},
		{
			name: "shard base on one device",
			yaml: minimal,
			sets: []string{"train.shard_base=true"},
			want: []string{"train.shard_base: needs train.devices > 1"},
		},
		{
			name: "control folder is the image folder",
			yaml: minimal,
			sets: []string{"dataset.folders.0.control=data/style/"},
			want: []string{"dataset.folders.0.control: is the image folder itself"},
		},
		{
			name: "mask folder is the image folder",
			yaml: minimal,
			sets: []string{"dataset.folders.0.masks=data/style/"},
			want: []string{"dataset.folders.0.masks: is the image folder itself"},
		},
		{
			name: "mask folder is the control folder",
			yaml: minimal,
			sets: []string{"dataset.folders.0.masks=m", "dataset.folders.0.control=m"},
			want: []string{"dataset.folders.0.masks: is the control folder"},
		},
		{
			name: "mask_min out of range",
			yaml: minimal,
			sets: []string{"dataset.mask_min=1.5"},
			want: []string{"dataset.mask_min: must be a number in [0, 1], got 1.5 (the loss weight outside a mask"},
		},
		{
			name: "missing required",
			yaml: "name: x\n",
			want: []string{"model.path: is required", "dataset.folders: needs at least one folder"},
		},
		{
			name: "sides must be multiples of 16",
			yaml: minimal + "sample:\n  width: 1000\n",
			sets: []string{"dataset.resolutions=[512, 700]"},
			want: []string{"sample.width: must be a multiple of 16", "try 1008", "dataset.resolutions.1: must be a multiple of 16"},
		},
		{
			name: "bad set syntax",
			yaml: minimal,
			sets: []string{"train.lr"},
			want: []string{"--set train.lr: must be path.to.key=value"},
		},
		{
			name: "set unknown key",
			yaml: minimal,
			sets: []string{"train.learning_rate=1"},
			want: []string{"train.learning_rate: unknown key"},
		},
		{
			name: "previews need prompts",
			yaml: minimal + "sample:\n  every: 10\n",
			want: []string{"sample.prompts: needs at least one prompt"},
		},
		{
			name: "warmup below steps",
			yaml: minimal + "train:\n  steps: 10\n  warmup_steps: 10\n",
			want: []string{"train.warmup_steps: must be in [0, train.steps=10), got 10"},
		},
		{
			name: "name too long",
			yaml: minimal,
			sets: []string{"name=" + strings.Repeat("a", 300)},
			want: []string{"name: is 300 characters long; at most 128 (it names the output files)"},
		},
		{
			name: "name with a path separator",
			yaml: minimal,
			sets: []string{"name=runs/x"},
			want: []string{`name: must be letters, digits, '.', '_' or '-', starting with a letter or digit (it names the output files), got "runs/x"`},
		},
		{
			name: "name with reserved characters",
			yaml: minimal,
			sets: []string{`name="a:b*c?"`},
			want: []string{`name: must be letters, digits`, `got "a:b*c?"`},
		},
		{
			name: "name starting with a dot",
			yaml: minimal,
			sets: []string{"name=..", "output.dir=x"},
			want: []string{`name: must be letters, digits`, `got ".."`},
		},
		{
			name: "reserved device name",
			yaml: minimal,
			sets: []string{"name=NUL.v2"},
			want: []string{`name: "NUL.v2" is a reserved device name on Windows`},
		},
		{
			name: "not yaml",
			yaml: "model: [unclosed\n",
			want: []string{"not valid YAML"},
		},
		{
			name: "mapping expected",
			yaml: minimal + "train: 5\n",
			want: []string{"train: must be a mapping of keys"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "job.yaml", tc.sets)
			if err == nil {
				t.Fatalf("Parse succeeded, want problems %q", tc.want)
			}
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not *Problems: %v", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "job.yaml: ") {
				t.Errorf("error does not name the file: %q", msg)
			}
			testutil.CheckContains(t, "error", msg, tc.want...)
		})
	}
}

func TestSetOverrides(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "", []string{
		"train.lr=2e-4",
		"dataset.resolutions=[512, 768]",
		"dataset.folders.0.repeats=10",
		"dataset.folders.1.path=more",
		"dataset.folders.1.control=more-control",
		"sample.prompts=[a cat, a dog]",
		"name=run-7",
		"dataset.trigger=ohwx",
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.Train.LR != 2e-4 {
		t.Errorf("lr = %g", cfg.Train.LR)
	}
	if !reflect.DeepEqual(cfg.Dataset.Resolutions, []int{512, 768}) {
		t.Errorf("resolutions = %v", cfg.Dataset.Resolutions)
	}
	wantFolders := []DatasetFolder{{Path: "data/style", Repeats: 10}, {Path: "more", Control: "more-control"}}
	if !reflect.DeepEqual(cfg.Dataset.Folders, wantFolders) {
		t.Errorf("folders = %+v", cfg.Dataset.Folders)
	}
	if !reflect.DeepEqual(cfg.Sample.Prompts, []string{"a cat", "a dog"}) {
		t.Errorf("prompts = %q", cfg.Sample.Prompts)
	}
	if cfg.Name != "run-7" || cfg.Dataset.Trigger != "ohwx" {
		t.Errorf("name=%q trigger=%q", cfg.Name, cfg.Dataset.Trigger)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "", []string{"adapter.overrides.0.pattern=single_blocks.*", "adapter.overrides.0.rank=8"})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	text, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse([]byte(text), "", nil)
	if err != nil {
		t.Fatalf("re-parsing printed config: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(cfg, back) {
		t.Errorf("round trip differs:\n%+v\n%+v", cfg, back)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("want error naming the file, got %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{{"", "", 0}, {"lr", "lrr", 1}, {"kitten", "sitting", 3}, {"abc", "", 3}}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q,%q)=%d want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestDuplicateKeyReportedAlone: a key given twice is reported with both
// lines, and nothing else: the rest of the file still decodes (no false
// "model.path is required"), and problems under the duplicated key are not
// side effects reported on top.
func TestDuplicateKeyReportedAlone(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{minimal + "model:\n  path: other.safetensors\n", "model: key given twice (line 7, first at line 2); keep one"},
		{minimal + "model:\n  variant: dev\n", "model: key given twice (line 7, first at line 2); keep one"},
		{"model:\n  variant: dev\nmodel:\n  path: m.safetensors\ndataset:\n  folders: [{path: d}]\n", "model: key given twice (line 3, first at line 1); keep one"},
		{minimal + "train:\n  lr: 1e-4\n  lr: 2e-4\n", "train.lr: key given twice (line 9, first at line 8); keep one"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.yaml), "job.yaml", nil)
		var ps *Problems
		if !errors.As(err, &ps) {
			t.Fatalf("%q: want problems, got %v", tc.yaml, err)
		}
		if len(ps.List) != 1 || ps.List[0].String() != tc.want {
			t.Errorf("%q: want only %q, got:\n%v", tc.yaml, tc.want, err)
		}
	}
}

// TestSetMessages: --set problems name the override, never "line 0" or the
// line 1 of the value's own one-line YAML.
func TestSetMessages(t *testing.T) {
	tests := []struct {
		set  string
		want string
	}{
		{"..=5", `--set ..=5: the key path ".." is malformed (an empty part between dots)`},
		{"train..lr=5", `--set train..lr=5: the key path "train..lr" is malformed`},
		{".lr=5", `the key path ".lr" is malformed`},
		{"=5", "--set =5: must be path.to.key=value"},
		{"train.lrr=1e-4", `train.lrr: unknown key (from --set); did you mean "train.lr"?`},
		{"train.lr=fast", `train.lr: must be a number, got "fast" (from --set)`},
		{"train.steps=1.5", "train.steps: must be an integer, got 1.5 (from --set)"},
		{"train=5", "train: must be a mapping of keys (from --set)"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(minimal), "job.yaml", []string{tc.set})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: want %q, got:\n%v", tc.set, tc.want, err)
			continue
		}
		if strings.Contains(err.Error(), "line") {
			t.Errorf("--set %s: message mentions a line:\n%v", tc.set, err)
		}
	}
}

// TestSetMappingMerges: --set with a mapping value changes only the keys it
// names; the file's other keys in that mapping stay.
func TestSetMappingMerges(t *testing.T) {
	yaml := minimal + "train:\n  lr: 2e-4\n  batch_size: 2\nadapter:\n  overrides:\n    - {pattern: a, rank: 4}\n"
	cfg, err := Parse([]byte(yaml), "", []string{"train={steps: 5, optimizer: adamw8bit}", "adapter.overrides.0={alpha: 2}", "dataset={trigger: ohwx}"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Train.Steps != 5 || cfg.Train.Optimizer != "adamw8bit" || cfg.Train.LR != 2e-4 || cfg.Train.BatchSize != 2 {
		t.Errorf("train = %+v, want steps 5, adamw8bit and the file's lr 2e-4, batch 2", cfg.Train)
	}
	if want := []AdapterOverride{{Pattern: "a", Rank: 4, Alpha: 2}}; !reflect.DeepEqual(cfg.Adapter.Overrides, want) {
		t.Errorf("overrides = %+v, want %+v", cfg.Adapter.Overrides, want)
	}
	if cfg.Dataset.Trigger != "ohwx" || len(cfg.Dataset.Folders) != 1 || cfg.Dataset.Folders[0].Path != "data/style" {
		t.Errorf("dataset = %+v", cfg.Dataset)
	}
	// A list value still replaces the list.
	cfg, err = Parse([]byte(minimal), "", []string{"dataset.resolutions=[512]"})
	if err != nil || !reflect.DeepEqual(cfg.Dataset.Resolutions, []int{512}) {
		t.Errorf("resolutions = %v, %v", cfg, err)
	}
}

// TestOptimizerProblems: the learning rate and settings each optimizer
// takes differently are reported with the key and the fix; the usual
// setups are accepted.
func TestOptimizerProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		want []string // "" entries: no problem expected
	}{
		{"prodigy with an AdamW lr", []string{"train.optimizer=prodigy"},
			[]string{"train.lr: is 0.0001, but prodigy estimates the step size itself", "set train.lr: 1.0", "train.prodigy_d_coef"}},
		{"prodigy growth rate below 1", []string{"train.optimizer=prodigy", "train.lr=1", "train.prodigy_growth_rate=0.5"},
			[]string{"train.prodigy_growth_rate: must be 0 (unlimited) or >= 1"}},
		{"prodigy d_coef 0", []string{"train.optimizer=prodigy", "train.lr=1", "train.prodigy_d_coef=0"},
			[]string{"train.prodigy_d_coef: must be a number in (0, 100], got 0"}},
		{"adafactor with prodigy's lr", []string{"train.optimizer=adafactor", "train.lr=1"},
			[]string{"train.lr: is 1, far above adafactor's usual 1e-4 to 1e-2", "train.adafactor_relative_step: true"}},
		{"adafactor warmup_init without relative_step", []string{"train.optimizer=adafactor", "train.adafactor_warmup_init=true"},
			[]string{"train.adafactor_warmup_init: needs train.adafactor_relative_step: true"}},
		{"adafactor relative step with a schedule", []string{"train.optimizer=adafactor", "train.adafactor_relative_step=true", "train.schedule=cosine"},
			[]string{"train.schedule: is cosine with 0 warmup steps, but adafactor_relative_step uses Adafactor's own step size", "set train.schedule: constant"}},
		{"adafactor decay rate positive", []string{"train.optimizer=adafactor", "train.adafactor_decay_rate=0.8"},
			[]string{"train.adafactor_decay_rate: must be a number in [-1, 0), got 0.8"}},
		{"prodigy ok", []string{"train.optimizer=prodigy", "train.lr=1", "train.schedule=cosine"}, nil},
		{"adafactor manual ok", []string{"train.optimizer=adafactor", "train.lr=1e-3"}, nil},
		{"adafactor relative ok", []string{"train.optimizer=adafactor", "train.adafactor_relative_step=true", "train.adafactor_warmup_init=true", "train.adafactor_scale_parameter=true"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal), "job.yaml", tc.sets)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want problems %q", tc.want)
			}
			testutil.CheckContains(t, "error", err.Error(), tc.want...)
		})
	}
}
