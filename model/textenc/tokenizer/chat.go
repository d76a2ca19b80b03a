package tokenizer

import (
	"fmt"
	"strings"
)

// PadSide says on which side EncodePrompts pads sequences to the fixed length.
type PadSide uint8

const (
	// PadRight appends pad tokens after the prompt (Qwen3 / FLUX.2 klein).
	PadRight PadSide = iota
	// PadLeft puts pad tokens before the prompt (Mistral / FLUX.2 dev).
	PadLeft
)

// String returns "right" or "left".
func (s PadSide) String() string {
	if s == PadLeft {
		return "left"
	}
	return "right"
}

// ChatTemplate renders one user prompt into the exact text a FLUX.2 pipeline tokenizes,
// and says how the token sequence is padded.
type ChatTemplate interface {
	// Render returns the templated text (special tokens written as their strings).
	Render(prompt string) string
	// PadToken is the token (as written in the tokenizer) used for padding.
	PadToken() string
	// PadSide is the side padding goes to.
	PadSide() PadSide
}

// DefaultMaxLength is the text sequence length of all FLUX.2 pipelines.
const DefaultMaxLength = 512

// maxPromptLength bounds the fixed length EncodePrompt allocates.
const maxPromptLength = 1 << 20

// QwenChat is the FLUX.2 [klein] prompt format: Qwen3's chat template for one user message
// with add_generation_prompt=True and enable_thinking=False, right-padded with
// <|endoftext|> (id 151643).
type QwenChat struct{}

// Render implements ChatTemplate.
func (QwenChat) Render(prompt string) string {
	return "<|im_start|>user\n" + prompt + "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
}

// PadToken implements ChatTemplate.
func (QwenChat) PadToken() string { return "<|endoftext|>" }

// PadSide implements ChatTemplate.
func (QwenChat) PadSide() PadSide { return PadRight }

// FLUX2DevSystemMessage is the system prompt of the FLUX.2 [dev] text encoder (BFL
// src/flux2/system_messages.py SYSTEM_MESSAGE, identical in diffusers), with its embedded
// newline after "object".
const FLUX2DevSystemMessage = "You are an AI that reasons about image descriptions. You give structured responses focusing on object relationships, object\nattribution and actions without speculation."

// MistralChat is the FLUX.2 [dev] prompt format: the Mistral-Small-3.1 chat template for a
// system message plus one user message, add_generation_prompt=False, with every literal
// "[IMG]" removed from the prompt first, left-padded with <pad> (id 11). The rendering
// equals mistral-common's v7 instruct encoding; the left padding side follows the FLUX.2
// references (Modular MAX, swift-diffusion) and could not be read from the published
// tokenizer_config.json here.
type MistralChat struct {
	// System is the system message; empty means FLUX2DevSystemMessage.
	System string
}

// Render implements ChatTemplate.
func (m MistralChat) Render(prompt string) string {
	sys := m.System
	if sys == "" {
		sys = FLUX2DevSystemMessage
	}
	prompt = strings.ReplaceAll(prompt, "[IMG]", "")
	return "<s>[SYSTEM_PROMPT]" + sys + "[/SYSTEM_PROMPT][INST]" + prompt + "[/INST]"
}

// PadToken implements ChatTemplate.
func (MistralChat) PadToken() string { return "<pad>" }

// PadSide implements ChatTemplate.
func (MistralChat) PadSide() PadSide { return PadLeft }

// EncodePrompt templates and tokenizes one prompt like transformers with
// padding="max_length", truncation=True, max_length=maxLen: the ids are cut to the first
// maxLen (so an over-long prompt loses the template's end), then padded on the template's
// side. mask is 1 for real tokens and 0 for padding.
func (t *Tokenizer) EncodePrompt(tpl ChatTemplate, prompt string, maxLen int) (ids, mask []int32, err error) {
	if maxLen <= 0 || maxLen > maxPromptLength {
		return nil, nil, fmt.Errorf("tokenizer: max length %d out of range (1..%d)", maxLen, maxPromptLength)
	}
	padID, ok := t.TokenID(tpl.PadToken())
	if !ok {
		return nil, nil, fmt.Errorf("tokenizer %s: pad token %q not found; is this the right tokenizer for the template?", t.source, tpl.PadToken())
	}
	toks := t.Encode(tpl.Render(prompt))
	if len(toks) > maxLen {
		toks = toks[:maxLen]
	}
	ids = make([]int32, maxLen)
	mask = make([]int32, maxLen)
	off := 0
	if tpl.PadSide() == PadLeft {
		off = maxLen - len(toks)
	}
	for i := range ids {
		ids[i] = int32(padID)
	}
	for i, id := range toks {
		ids[off+i] = int32(id)
		mask[off+i] = 1
	}
	return ids, mask, nil
}

// EncodePrompts applies EncodePrompt to each prompt; rows are [len(prompts)][maxLen].
func (t *Tokenizer) EncodePrompts(tpl ChatTemplate, prompts []string, maxLen int) (ids, mask [][]int32, err error) {
	ids = make([][]int32, len(prompts))
	mask = make([][]int32, len(prompts))
	for i, p := range prompts {
		ids[i], mask[i], err = t.EncodePrompt(tpl, p, maxLen)
		if err != nil {
			return nil, nil, fmt.Errorf("prompt %d: %w", i, err)
		}
	}
	return ids, mask, nil
}
