package textenc

import "testing"

// TestHFConfigJSONRoundTrip: the Qwen3 config.json Flora writes parses back
// as the same architecture; Mistral configs are refused.
func TestHFConfigJSONRoundTrip(t *testing.T) {
	for _, c := range []Config{Qwen3_4BConfig(), Qwen3_8BConfig(), TinyQwen3Config()} {
		data, err := c.HFConfigJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ConfigFromHF(data)
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("read back %+v, want %+v", got, c)
		}
	}
	if _, err := MistralSmall3Config().HFConfigJSON(); err == nil {
		t.Error("a Mistral config was written")
	}
}
