package main

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/testutil"
)

// leafCommands lists every runnable command with its path ("lora merge").
func leafCommands() map[string]*command {
	out := map[string]*command{}
	var walk func(prefix string, c *command)
	walk = func(prefix string, c *command) {
		p := strings.TrimSpace(prefix + " " + c.name)
		if c.subcommands == nil {
			out[p] = c
			return
		}
		for _, s := range c.subcommands {
			walk(p, s)
		}
	}
	for _, c := range commands {
		walk("", c)
	}
	return out
}

// TestHelpPrintedOnce: `flora CMD --help` and `-h` print the usage once, to
// stdout, nothing to stderr, exit 0 (pflag printed it to stderr and the CLI
// again to stdout).
func TestHelpPrintedOnce(t *testing.T) {
	leaves := leafCommands()
	paths := make([]string, 0, len(leaves))
	for p := range leaves {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(paths) < 15 {
		t.Fatalf("found %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		for _, h := range []string{"--help", "-h"} {
			args := append(strings.Fields(p), h)
			code, out, errs := runCLI(t, args...)
			want := "Usage: flora " + strings.Fields(leaves[p].usage)[0]
			if code != 0 || errs != "" || strings.Count(out, "Usage:") != 1 || !strings.Contains(out, want) {
				t.Errorf("%s: exit %d, usage %d times on stdout (want 1, %q), stderr %q", strings.Join(args, " "), code, strings.Count(out, "Usage:"), want, errs)
			}
		}
	}
	// A usage error still prints the usage, once, to stderr.
	code, out, errs := runCLI(t, "version", "--bogus")
	if code != 2 || out != "" || strings.Count(errs, "Usage:") != 1 {
		t.Errorf("version --bogus: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestFlagUsagesNameTheirValues: no flag usage holds backquotes (pflag shows
// the quoted text as the value's name: "--quantize flora model quantize").
func TestFlagUsagesNameTheirValues(t *testing.T) {
	for p, c := range leafCommands() {
		fs := pflag.NewFlagSet(p, pflag.ContinueOnError)
		c.setup(fs)
		fs.VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				t.Errorf("flora %s --%s: usage has backquotes: %q", p, f.Name, f.Usage)
			}
		})
	}
	_, out, _ := runCLI(t, "sample", "--help")
	testutil.CheckContains(t, "sample --help", out, "--quantize string", "--guidance float", "--steps int", "--width int")
	if strings.Contains(out, "(default -1)") {
		t.Errorf("sample --help shows the internal marker -1 as a default:\n%s", out)
	}
}

// TestSampleRefusesBadNumbers: absurd or non-finite numbers, bad FILE:SCALE
// values and variants are refused before any work (exit 2, no model
// loaded), each message naming the flag and the rule.
func TestSampleRefusesBadNumbers(t *testing.T) {
	dir := t.TempDir()
	adapter := testutil.WriteFile(t, filepath.Join(dir, "f"), []byte("x"))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--guidance", "NaN"}, `invalid argument "NaN" for "--guidance" flag: must be a finite number in [0, 100], got NaN`},
		{[]string{"--guidance", "Inf"}, `"--guidance" flag: must be a finite number in [0, 100], got +Inf`},
		{[]string{"--guidance", "1e39"}, `"--guidance" flag: must be a number in [0, 100], got 1e+39`},
		{[]string{"--guidance", "-2"}, `"--guidance" flag: must be a number in [0, 100], got -2`},
		{[]string{"--guidance", "abc"}, `"--guidance" flag: "abc" is not a number`},
		{[]string{"--steps", "0"}, `"--steps" flag: must be in [1, 1000], got 0`},
		{[]string{"--steps", "-3"}, `"--steps" flag: must be in [1, 1000], got -3`},
		{[]string{"--steps", "1000000"}, `"--steps" flag: must be in [1, 1000], got 1000000`},
		{[]string{"--count", "0"}, `"--count" flag: must be in [1, 1000], got 0`},
		{[]string{"--count", "100000000"}, `"--count" flag: must be in [1, 1000]`},
		{[]string{"--width", "100000", "--height", "100000"}, `"--width" flag: must be a multiple of 16 in [64, 4096] (FLUX.2 latents are 16× smaller), got 100000; try 4096`},
		{[]string{"--width", "100000", "--height", "64"}, `"--width" flag: must be a multiple of 16`},
		{[]string{"--height", "70"}, `"--height" flag: must be a multiple of 16 in [64, 4096] (FLUX.2 latents are 16× smaller), got 70; try 64`},
		{[]string{"--lora", "f:abc"}, `--lora f:abc: the scale "abc" is not a number`},
		{[]string{"--lora", "f:"}, `--lora f:: the scale after ':' is empty; write FILE:SCALE, e.g. f:0.8, or just f`},
		{[]string{"--lora", "f::1"}, `--lora f::1: two colons; write FILE:SCALE, e.g. f:0.8`},
		{[]string{"--lora", ":1"}, `--lora :1: no file before the scale`},
		{[]string{"--lora", adapter + ":NaN"}, `:NaN: the scale must be a finite number in [-10, 10], got NaN`},
		{[]string{"--lora", adapter + ":1e39"}, `:1e39: the scale must be a number in [-10, 10], got 1e+39`},
		{[]string{"--lora", filepath.Join(dir, "missing.safetensors") + ":0.5"}, "missing.safetensors does not exist"},
		{[]string{"--lora", dir}, "is a folder; give the adapter's .safetensors file"},
		{[]string{"--variant", "klein-99b"}, `--variant: variant "klein-99b" does not apply to embedded:tiny, which is the embedded-tiny model; use auto`},
		{[]string{"--variant", "klein-4b"}, `--variant: variant "klein-4b" does not apply to embedded:tiny`},
		{[]string{"--cfg", "maybe"}, `--cfg must be auto, on or off, got "maybe"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"sample", "--backend", "go", "--model", "embedded:tiny", "--prompt", "x", "--out", filepath.Join(dir, "o.png")}, tc.args...)
			out, errs := cliCase{args: args, code: 2, wantErr: tc.want}.check(t)
			if strings.Contains(errs, "loaded FLUX.2") || strings.Contains(errs, "step ") || out != "" {
				t.Errorf("work started before the refusal:\n%s%s", out, errs)
			}
		})
	}
	// A variant unknown for a file model is refused just as early.
	code, _, errs := runCLI(t, "sample", "--model", filepath.Join(dir, "m.safetensors"), "--prompt", "x", "--variant", "klein-99b")
	if code != 2 || !strings.Contains(errs, `unknown FLUX.2 variant "klein-99b"`) {
		t.Errorf("unknown variant: exit %d\n%s", code, errs)
	}
}

// TestParseLoRASpec: FILE[:SCALE] values.
func TestParseLoRASpec(t *testing.T) {
	dir := t.TempDir()
	colon := testutil.WriteFile(t, filepath.Join(dir, "a:b.safetensors"), nil)
	tests := []struct {
		spec  string
		path  string
		scale float64
		err   string
	}{
		{spec: "a.safetensors", path: "a.safetensors", scale: 1},
		{spec: "a.safetensors:0.5", path: "a.safetensors", scale: 0.5},
		{spec: "a.safetensors:-1", path: "a.safetensors", scale: -1},
		{spec: "dir:x/a.safetensors:2", path: "dir:x/a.safetensors", scale: 2},
		{spec: colon, path: colon, scale: 1},
		{spec: colon + ":0.25", path: colon, scale: 0.25},
		{spec: "", err: "--lora needs a value"},
		{spec: "f:abc", err: `the scale "abc" is not a number`},
		{spec: "f:inf", err: "must be a finite number in [-10, 10], got +Inf"},
		{spec: "f:-11", err: "must be a number in [-10, 10], got -11"},
	}
	for _, tc := range tests {
		got, err := parseLoRASpec("--lora", tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got.Path != tc.path || got.Scale != tc.scale || math.IsNaN(got.Scale) {
			t.Errorf("%q: got %+v, %v; want %s at %g", tc.spec, got, err, tc.path, tc.scale)
		}
	}
}

// TestNumberFlagsRefuseNonFinite: every float flag of every command refuses
// NaN and Inf while parsing (pflag's own float flags accept them).
func TestNumberFlagsRefuseNonFinite(t *testing.T) {
	n := 0
	for p, c := range leafCommands() {
		fs := pflag.NewFlagSet(p, pflag.ContinueOnError)
		c.setup(fs)
		fs.VisitAll(func(f *pflag.Flag) {
			switch f.Value.Type() {
			case "float", "float64", "float32", "GiB":
			default:
				return
			}
			n++
			for _, bad := range []string{"NaN", "Inf", "-Inf", "1e400", "NaNGiB"} {
				if err := f.Value.Set(bad); err == nil {
					t.Errorf("flora %s --%s %s accepted", p, f.Name, bad)
				}
			}
		})
	}
	if n < 5 {
		t.Errorf("checked %d float flags, want >= 5 (sample --guidance, train --memory-budget/--gpu-memory, data check --max-aspect/--max-upscale)", n)
	}
}

// TestTrainRefusesBadNumbersAndVariants: config check names the float key,
// and the embedded model refuses another variant.
func TestTrainRefusesBadNumbersAndVariants(t *testing.T) {
	dir := t.TempDir()
	cfg := testutil.WriteFile(t, filepath.Join(dir, "job.yaml"), []byte("model:\n  path: embedded:tiny\ndataset:\n  folders: [{path: d}]\n"))
	tests := []cliCase{
		{args: []string{"config", "check", cfg, "--set", "train.lr=NaN"}, code: 1, wantErr: `train.lr: must be a finite number, got "NaN" (from --set)`},
		{args: []string{"config", "check", cfg, "--set", "train.weight_decay=.inf"}, code: 1, wantErr: "train.weight_decay: must be a finite number in [0, 1], got +Inf"},
		{args: []string{"config", "check", cfg, "--set", "train.sigmoid_scale=.inf"}, code: 1, wantErr: "train.sigmoid_scale: must be a finite number in (0, 100], got +Inf"},
		{args: []string{"config", "check", cfg, "--set", "model.variant=klein-4b"}, code: 1, wantErr: `model.variant: must be auto for the built-in model embedded:tiny (it is its own variant), got "klein-4b"`},
		{args: []string{"config", "check", cfg, "--set", "..=5"}, code: 1, wantErr: `--set ..=5: the key path ".." is malformed`},
		{args: []string{"config", "check", cfg, "--set", "train.optimizer=prodigy"}, code: 1, wantErr: "train.lr: is 0.0001, but prodigy estimates the step size itself and lr only multiplies it: set train.lr: 1.0"},
		{args: []string{"config", "print", cfg, "--set", "train.optimizer=prodigy", "--set", "train.lr=1"}, code: 0, wantOut: "  optimizer: prodigy\n"},
		{args: []string{"config", "print", cfg}, code: 0, wantOut: "  prodigy_d0: 1e-06\n  prodigy_d_coef: 1\n"},
		{args: []string{"config", "print", cfg}, code: 0, wantOut: "  adafactor_relative_step: false\n"},
		{args: []string{"config", "print", cfg}, code: 0, wantOut: "  adafactor_decay_rate: -0.8\n"},
		{args: []string{"train", "--config", cfg, "--memory-budget", "NaN"}, code: 2, wantErr: `"--memory-budget" flag: must be a finite number in [0, 65536], got NaN`},
		{args: []string{"data", "check", dir, "--max-aspect", "NaN"}, code: 2, wantErr: `"--max-aspect" flag: must be a finite number in [1, 16], got NaN`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:2], " ")+" "+tc.args[len(tc.args)-1], func(t *testing.T) {
			if _, errs := tc.check(t); strings.Contains(errs, "line 0") {
				t.Errorf("says line 0:\n%s", errs)
			}
		})
	}
}

// TestLoRAMergeAndResizeRefuseBadNumbers: a NaN merge scale is refused
// before the base model loads, and resize refuses a rank above the
// adapter's and prints the rank it wrote.
func TestLoRAMergeAndResizeRefuseBadNumbers(t *testing.T) {
	model := needFixture(t, "transformer.safetensors")
	file := needFixture(t, "lora.safetensors") // rank 4 everywhere
	dir := t.TempDir()
	out := filepath.Join(dir, "m.safetensors")
	for _, scale := range []string{"NaN", "inf", "abc", ""} {
		code, stdout, errs := runCLI(t, "lora", "merge", "--backend", "go", "--base", model, "--lora", file+":"+scale, "--out", out)
		if code != 2 || !strings.Contains(errs, "--lora "+file+":"+scale+": the scale") || stdout != "" {
			t.Errorf("merge scale %q: exit %d\n%s%s", scale, code, stdout, errs)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("merge scale %q wrote %s", scale, out)
		}
	}
	small := filepath.Join(dir, "r.safetensors")
	code, stdout, errs := runCLI(t, "lora", "resize", file, "--rank", "100000", "--out", small)
	if code != 2 || !strings.Contains(errs, "--rank 100000 is above the rank of") || !strings.Contains(errs, "give 1 to 4") {
		t.Errorf("resize --rank 100000: exit %d\n%s%s", code, stdout, errs)
	}
	if _, err := os.Stat(small); err == nil {
		t.Fatal("resize --rank 100000 wrote a file")
	}
	code, stdout, errs = runCLI(t, "lora", "resize", file, "--rank", "2", "--out", small)
	if code != 0 || !strings.Contains(stdout, "(rank 2, comfy)") {
		t.Errorf("resize --rank 2: exit %d\n%s%s", code, stdout, errs)
	}
}

// TestSampleNamesTextEncoderFlag: without a text encoder, sample names its
// own flag, not the job key model.text_encoder.
func TestSampleNamesTextEncoderFlag(t *testing.T) {
	model := needFixture(t, "transformer.safetensors")
	vae := needFixture(t, "vae.safetensors")
	code, _, errs := runCLI(t, "sample", "--backend", "go", "--model", model, "--vae", vae, "--prompt", "x", "--steps", "1",
		"--width", "64", "--height", "64", "--out", filepath.Join(t.TempDir(), "x.png"))
	if code != 1 || !strings.Contains(errs, "give --text-encoder FOLDER") || strings.Contains(errs, "model.text_encoder") {
		t.Errorf("exit %d\n%s", code, errs)
	}
}
