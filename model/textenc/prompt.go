package textenc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/textenc/tokenizer"
	"github.com/flora-ml/flora/model/weights"
)

// PromptEncoder turns prompts into FLUX.2 text context: the model family's
// chat template, tokenization padded to MaxLen (left for Mistral, right for
// Qwen3, with the attention mask), and the encoder's stacked hidden states.
type PromptEncoder struct {
	Encoder   *Encoder
	Tokenizer *tokenizer.Tokenizer
	Template  tokenizer.ChatTemplate
	// MaxLen is the padded token length (512 in the reference pipelines).
	MaxLen int
	// TokenizerID identifies the tokenizer file (for cache keys).
	TokenizerID string
}

// TemplateFor returns the chat template the FLUX.2 pipelines use with a
// model family.
func TemplateFor(family string) tokenizer.ChatTemplate {
	if family == "mistral" {
		return tokenizer.MistralChat{System: tokenizer.FLUX2DevSystemMessage}
	}
	return tokenizer.QwenChat{}
}

// Encode encodes prompts to [B, MaxLen, len(Layers)·hidden] float32.
func (p *PromptEncoder) Encode(prompts []string) (*tensors.Tensor, error) {
	ids, mask, err := p.Tokenizer.EncodePrompts(p.Template, prompts, p.MaxLen)
	if err != nil {
		return nil, fmt.Errorf("tokenizing prompts: %w", err)
	}
	return p.Encoder.Encode(ids, mask)
}

// Identity names everything that changes the embeddings: encoder weights and
// layers, tokenizer, template and length.
func (p *PromptEncoder) Identity() string {
	return fmt.Sprintf("%s|tok=%s|tpl=%T|max_len=%d", p.Encoder.Identity(), p.TokenizerID, p.Template, p.MaxLen)
}

// Release frees the encoder's weights and returns the bytes freed.
func (p *PromptEncoder) Release() int64 { return p.Encoder.Release() }

// fileID is a short content hash of a file, for identities.
func fileID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:6]), nil
}

// LoadForVariant loads the text encoder of a FLUX.2 variant from a Hugging
// Face folder (config.json + sharded safetensors) and its tokenizer folder
// (tokenizer.json), checking that the encoder's width matches the variant's
// context and binding the variant's own layer set.
func LoadForVariant(backend backends.Backend, encoderDir, tokenizerDir string, v flux2.Variant, dtype dtypes.DType) (*PromptEncoder, error) {
	want, layers, err := ForVariant(v)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(encoderDir, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	cfg, err := ParseHFConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	if cfg.Family != want.Family || len(layers)*cfg.Hidden != v.Config.ContextDim {
		return nil, fmt.Errorf("%s: a %s encoder of width %d does not fit FLUX.2 %s (needs %s, %d × %d = %d)",
			encoderDir, cfg.Family, cfg.Hidden, v.Name, want.Family, len(layers), want.Hidden, v.Config.ContextDim)
	}
	return loadPromptEncoder(backend, encoderDir, tokenizerDir, cfg, layers, dtype, tokenizer.DefaultMaxLength)
}

func loadPromptEncoder(backend backends.Backend, encoderDir, tokenizerDir string, cfg Config, layers []int, dtype dtypes.DType, maxLen int) (*PromptEncoder, error) {
	ck, err := weights.OpenCheckpoint(encoderDir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	enc, err := Load(backend, ck, encoderDir, cfg, layers, dtype)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(tokenizerDir)
	if err != nil {
		enc.Release()
		return nil, err
	}
	id, err := fileID(tok.Source())
	if err != nil {
		id = tok.Source()
	}
	return &PromptEncoder{Encoder: enc, Tokenizer: tok, Template: TemplateFor(cfg.Family), MaxLen: maxLen, TokenizerID: id}, nil
}
