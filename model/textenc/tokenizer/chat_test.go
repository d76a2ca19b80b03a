package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// TestEncodePromptsMatchesReference checks templated, truncated and padded ids and masks
// against transformers (apply_chat_template + padding="max_length", truncation=True,
// max_length=512) for both FLUX.2 text encoders.
func TestEncodePromptsMatchesReference(t *testing.T) {
	cases := []struct {
		ref  string
		tpl  ChatTemplate
		side string
	}{
		{"qwen3_reference.json", QwenChat{}, "right"},
		{"tekken_reference.json", MistralChat{}, "left"},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			r := readReference(t, c.ref)
			tk := loadFixture(t, r.Tokenizer)
			prompts := make([]string, len(r.Chat))
			for i, ch := range r.Chat {
				prompts[i] = ch.Prompt
				if ch.PaddingSide != c.side || c.tpl.PadSide().String() != c.side {
					t.Fatalf("padding side: reference %q, template %q, want %q", ch.PaddingSide, c.tpl.PadSide(), c.side)
				}
				if got := c.tpl.Render(ch.Prompt); got != ch.Rendered {
					t.Errorf("Render(%q)\n got %q\nwant %q", ch.Prompt, got, ch.Rendered)
				}
			}
			ids, mask, err := tk.EncodePrompts(c.tpl, prompts, DefaultMaxLength)
			if err != nil {
				t.Fatal(err)
			}
			truncated := 0
			for i, ch := range r.Chat {
				if !slices.Equal(ids[i], ch.IDs) {
					t.Errorf("prompt %q ids\n got %v\nwant %v", ch.Prompt, ids[i], ch.IDs)
				}
				if !slices.Equal(mask[i], ch.Mask) {
					t.Errorf("prompt %q mask\n got %v\nwant %v", ch.Prompt, mask[i], ch.Mask)
				}
				if !slices.Contains(mask[i], 0) {
					truncated++
				}
				if ch.MistralCommonIDs != nil {
					var real []int32
					for j, m := range mask[i] {
						if m == 1 {
							real = append(real, ids[i][j])
						}
					}
					if !slices.Equal(real, ch.MistralCommonIDs) {
						t.Errorf("prompt %q: ids %v differ from mistral-common's chat encoding %v", ch.Prompt, real, ch.MistralCommonIDs)
					}
				}
			}
			if truncated == 0 {
				t.Errorf("no reference prompt exercises truncation")
			}
		})
	}
}

func TestMistralChatRender(t *testing.T) {
	got := MistralChat{}.Render("a [IMG]cat[IMG]")
	want := "<s>[SYSTEM_PROMPT]" + FLUX2DevSystemMessage + "[/SYSTEM_PROMPT][INST]a cat[/INST]"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if !strings.Contains(FLUX2DevSystemMessage, "object\nattribution") {
		t.Errorf("system message lost its newline after \"object\"")
	}
	if got := (MistralChat{System: "S"}).Render("p"); got != "<s>[SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST]p[/INST]" {
		t.Errorf("custom system: %q", got)
	}
}

func TestEncodePromptPadding(t *testing.T) {
	tk := loadFixture(t, "tekken_pruned.tokenizer.json")
	ids, mask, err := tk.EncodePrompt(MistralChat{}, "a photo of sks dog", 64)
	if err != nil {
		t.Fatal(err)
	}
	n := len(tk.Encode(MistralChat{}.Render("a photo of sks dog")))
	for i := range ids {
		isPad := i < 64-n
		if isPad != (mask[i] == 0) || (isPad && ids[i] != 11) {
			t.Fatalf("position %d: id %d mask %d, want pad=%v (n=%d)", i, ids[i], mask[i], isPad, n)
		}
	}
	if ids[64-n] != 1 || ids[63] != 4 {
		t.Errorf("left-padded sequence must start with <s> (1) and end with [/INST] (4): %v", ids[64-n:])
	}
	// Truncation keeps the first maxLen tokens.
	ids, mask, err = tk.EncodePrompt(MistralChat{}, "a photo of sks dog", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int32{1, 17, 4568, 1584, 1420}) || !slices.Equal(mask, []int32{1, 1, 1, 1, 1}) {
		t.Errorf("truncated = %v %v", ids, mask)
	}
}

func TestEncodePromptErrors(t *testing.T) {
	qwen := loadFixture(t, "qwen3_pruned.tokenizer.json")
	if _, _, err := qwen.EncodePrompt(MistralChat{}, "x", 512); err == nil || !strings.Contains(err.Error(), "<pad>") {
		t.Errorf("Mistral template on the Qwen tokenizer: err = %v, want missing <pad>", err)
	}
	for _, n := range []int{0, -1, maxPromptLength + 1} {
		if _, _, err := qwen.EncodePrompt(QwenChat{}, "x", n); err == nil {
			t.Errorf("max length %d accepted", n)
		}
	}
	if _, _, err := qwen.EncodePrompts(QwenChat{}, []string{"a", "b"}, 0); err == nil || !strings.Contains(err.Error(), "prompt 0") {
		t.Errorf("EncodePrompts error does not name the prompt: %v", err)
	}
}
