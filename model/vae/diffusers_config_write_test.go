package vae

import "testing"

// TestDiffusersConfigJSONRoundTrip: the config.json Flora writes parses
// back as the same architecture.
func TestDiffusersConfigJSONRoundTrip(t *testing.T) {
	tiny := OfficialTinyConfig()
	tiny.Groups, tiny.ChMult = 1, []int{1, 1, 2}
	for _, c := range []Config{FLUX2Config(), SmallDecoderConfig(), OfficialTinyConfig(), tiny} {
		data, err := c.DiffusersConfigJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseDiffusersConfig(data)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(c) {
			t.Errorf("read back %+v, want %+v", got, c)
		}
	}
}
