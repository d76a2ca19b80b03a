package job

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDatasetValidation: dataset.validation is resolved relative to the job
// file like the folders' paths, printed by YAML, and refused when it is one
// of the training folders.
func TestDatasetValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		sets    []string
		want    string // resolved dataset.validation
		wantErr string
	}{
		{name: "unset", yaml: minimal, want: ""},
		{name: "relative", yaml: minimal + "  validation: holdout\n", want: "/jobs/holdout"},
		{name: "absolute", yaml: minimal, sets: []string{"dataset.validation=/val/set"}, want: "/val/set"},
		{name: "nested relative", yaml: minimal + "  validation: data/held-out/\n", want: "/jobs/data/held-out"},
		{name: "training folder", yaml: minimal + "  validation: data/style\n",
			wantErr: "dataset.validation: is training folder dataset.folders.0 (/jobs/data/style); give a separate folder"},
		{name: "training folder spelled differently", yaml: minimal, sets: []string{"dataset.validation=./data//style/"},
			wantErr: "dataset.validation: is training folder dataset.folders.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml), "/jobs/a.yaml", tc.sets)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Dataset.Validation; filepath.ToSlash(got) != tc.want {
				t.Errorf("dataset.validation = %q, want %q", got, tc.want)
			}
			text, err := cfg.YAML()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && !strings.Contains(text, "validation: "+tc.want) {
				t.Errorf("printed config lacks dataset.validation:\n%s", text)
			}
		})
	}
}
