package flux2

import "testing"

// TestVariantParamCounts checks every preset against the parameter counts and
// tensor counts computed from the published checkpoints (flux2-spec.md §1.2).
func TestVariantParamCounts(t *testing.T) {
	tests := []struct {
		name    string
		params  int64
		tensors int
	}{
		{"dev", 32_223_281_152, 299},
		{"klein-4b", 3_875_544_576, 149},
		{"klein-9b", 9_078_581_248, 201},
		{"klein-base-4b", 3_875_544_576, 149},
		{"klein-base-9b", 9_078_581_248, 201},
		{"tiny", -1, 43}, // 43 tensors in the official tiny fixture
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := VariantByName(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Config.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.params >= 0 {
				if got := v.Config.NumParams(); got != tc.params {
					t.Errorf("NumParams = %d, want %d", got, tc.params)
				}
			}
			if got := len(v.Config.ParamShapes()); got != tc.tensors {
				t.Errorf("tensor count = %d, want %d", got, tc.tensors)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	bad := TinyConfig()
	bad.AxesDim = [4]int{8, 8, 8, 6}
	bad.NumHeads = 5
	if err := bad.Validate(); err == nil {
		t.Fatal("Validate accepted inconsistent config")
	}
	if _, err := VariantByName("schnell"); err == nil {
		t.Fatal("unknown variant accepted")
	}
}
