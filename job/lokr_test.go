package job

import (
	"strings"
	"testing"
)

// TestLoKrAdapterKeys: adapter.type lokr with factor and full_matrix parses
// (unset: factor -1, whole w2), bad values and LoKr keys on a LoRA adapter
// are problems naming the key and the fix.
func TestLoKrAdapterKeys(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sets       []string
		factor     int
		full       bool
		wantErrors []string
	}{
		{name: "defaults", sets: []string{"adapter.type=lokr"}, factor: -1, full: true},
		{name: "factor 4 low-rank", sets: []string{"adapter.type=lokr", "adapter.factor=4", "adapter.full_matrix=false"}, factor: 4, full: false},
		{name: "explicit auto", sets: []string{"adapter.type=lokr", "adapter.factor=-1", "adapter.full_matrix=true"}, factor: -1, full: true},
		{name: "factor 1", sets: []string{"adapter.type=lokr", "adapter.factor=1"},
			wantErrors: []string{"adapter.factor: must be -1 (balanced split) or a factor >= 2, got 1"}},
		{name: "factor on lora", sets: []string{"adapter.factor=4"},
			wantErrors: []string{"adapter.factor: and adapter.full_matrix apply to adapter.type lokr only", "set type: lokr"}},
		{name: "unknown type", sets: []string{"adapter.type=loha"},
			wantErrors: []string{`adapter.type: must be one of lora, lokr, full, got "loha"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(minimal), "/jobs/a.yaml", tc.sets)
			if len(tc.wantErrors) > 0 {
				if err == nil {
					t.Fatal("accepted")
				}
				for _, w := range tc.wantErrors {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Adapter.LoKrFactor(); got != tc.factor {
				t.Errorf("factor %d, want %d", got, tc.factor)
			}
			if got := cfg.Adapter.LoKrFullMatrix(); got != tc.full {
				t.Errorf("full_matrix %v, want %v", got, tc.full)
			}
		})
	}
}
