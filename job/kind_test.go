package job

import (
	"strings"
	"testing"
)

func TestKindValidation(t *testing.T) {
	const ae = "kind: autoencoder\nname: ae\nmodel: {vae: random:tiny}\ndataset: {folders: [{path: data}], resolutions: [32]}\noutput: {dir: runs/ae}\n"
	for _, tc := range []struct {
		name, yaml string
		sets       []string
		// wants are substrings of the error; none: the job is valid.
		wants []string
	}{
		{"unknown kind", ae, []string{"kind=vae"}, []string{"kind: must be one of lora, autoencoder", `got "vae"`}},
		{"autoencoder needs no model.path", ae, nil, nil},
		{"default kind is lora and needs model.path", strings.Replace(ae, "kind: autoencoder\n", "", 1), nil, []string{"model.path: is required"}},
		{"autoencoder without model.vae", ae, []string{"model.vae="}, []string{"model.vae: is required for kind autoencoder"}},
		{"unknown built-in", ae, []string{"model.vae=random:huge"}, []string{"model.vae: built-in starting autoencoders are embedded:tiny and random:tiny"}},
		{"one crop size", ae, []string{"dataset.resolutions=[32, 64]"}, []string{"dataset.resolutions: takes one training crop size"}},
		{"no grad accumulation", ae, []string{"train.grad_accum=2"}, []string{"train.grad_accum: must be 1 for kind autoencoder"}},
		{"no text previews", ae, []string{"sample.every=10", "sample.prompts=[a]"}, []string{"sample.every: must be 0 for kind autoencoder"}},
		{"adapter settings are ignored", ae, []string{"adapter.rank=4"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "job.yaml", tc.sets)
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
