package flux2

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDiffusersConfigRoundTrip: the config.json Flora writes reads back as
// the same architecture for every variant.
func TestDiffusersConfigRoundTrip(t *testing.T) {
	for _, v := range Variants {
		data, err := v.Config.DiffusersConfigJSON()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readDiffusersConfig(dir)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if *got != v.Config {
			t.Errorf("%s: read back %+v, want %+v", v.Name, *got, v.Config)
		}
	}
}
