package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flora-ml/flora/eval"
)

// TestPrintRunEval: flora eval run prints the adapter's and the base
// model's style score and validation loss, and the validation set.
func TestPrintRunEval(t *testing.T) {
	var out bytes.Buffer
	old := cliOut
	cliOut = &out
	defer func() { cliOut = old }()
	printRunEval(&eval.RunEval{StyleScore: 0.61, StyleStd: 0.05, BaseStyleScore: 0.12, BaseStyleStd: 0.03, ValidationLoss: 0.4,
		BaseValidationLoss: 0.5, ValidationSet: "examples/tiny/holdout", Prompts: []string{"a", "b"}, Seed: 3})
	for _, want := range []string{"adapter 0.610 ± 0.050, base 0.120 ± 0.030 (2 prompts, seed 3)",
		"adapter 0.40000, base 0.50000 (on examples/tiny/holdout)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestConfigPrintValidation: config print lists dataset.validation,
// resolved next to the job file.
func TestConfigPrintValidation(t *testing.T) {
	cliCase{args: []string{"config", "print", "../../examples/tiny/train.yaml"}, wantOut: "validation: ../../examples/tiny/holdout"}.check(t)
	cliCase{args: []string{"config", "check", "../../examples/tiny/train.yaml", "--set", "dataset.validation=data"}, code: 1,
		wantErr: "dataset.validation: is training folder dataset.folders.0"}.check(t)
}
