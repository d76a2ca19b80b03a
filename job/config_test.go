package job

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
			want: []string{"zzz: unknown key", "valid keys: adapter, dataset, model, name, output, sample, train"},
		},
		{
			name: "all problems at once",
			yaml: minimal + "train:\n  lr: -1\n  steps: 0\n  lrr: 3\nadapter:\n  rank: 0\n  targets: everything\n",
			want: []string{
				"train.lrr: unknown key",
				"train.lr: must be > 0, got -1",
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
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestSetOverrides(t *testing.T) {
	cfg, err := Parse([]byte(minimal), "", []string{
		"train.lr=2e-4",
		"dataset.resolutions=[512, 768]",
		"dataset.folders.0.repeats=10",
		"dataset.folders.1.path=more",
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
	wantFolders := []DatasetFolder{{Path: "data/style", Repeats: 10}, {Path: "more"}}
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
