// Package tokenizer implements, offline and in pure Go, the tokenizers of the FLUX.2 text
// encoders exactly as the reference Python stack runs them:
//
//   - Hugging Face tokenizer.json files with a byte-level BPE model (Qwen2/Qwen3 for
//     FLUX.2 [klein]; the Tekken tokenizer of Mistral Small 3.1 for FLUX.2 [dev]):
//     added/special tokens, NFC-style normalizers, Split/ByteLevel pre-tokenizers whose
//     regexes run on a small backtracking engine with Oniguruma/fancy-regex semantics
//     (lookahead, possessive quantifiers, Unicode classes), BPE merges, ignore_merges,
//     byte_fallback and the ByteLevel decoder.
//   - Mistral tekken.json files (mistral-common format, tiktoken-style rank BPE).
//   - The FLUX.2 chat templates and fixed-length padding (QwenChat, MistralChat,
//     EncodePrompts).
//
// Unsupported configurations are reported as errors at Load time rather than guessed.
package tokenizer
