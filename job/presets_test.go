package job

import (
	"path/filepath"
	"testing"
)

// TestPresetsLoad checks every preset in configs/ is a valid job config.
func TestPresetsLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("found %d presets (err %v), want >= 4", len(files), err)
	}
	for _, f := range files {
		cfg, err := Load(f, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if cfg.Adapter.Alpha != float64(cfg.Adapter.Rank) {
			t.Errorf("%s: alpha %g != rank %d (the field's recipe)", f, cfg.Adapter.Alpha, cfg.Adapter.Rank)
		}
	}
}
