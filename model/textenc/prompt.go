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

	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc/tokenizer"
	"github.com/flora-ml/flora/model/weights"
)

// Contexts turns prompts into the transformer's text context [n, L, D]:
// a PromptEncoder runs the text encoder, a Table looks precomputed
// embeddings up.
type Contexts interface {
	// Encode maps prompts to their contexts [len(prompts), L, D] float32.
	Encode(prompts []string) (*tensors.Tensor, error)
	// Identity names everything that changes the contexts (for caches).
	Identity() string
	// Name describes the source for logs.
	Name() string
	// Release frees what the source holds and returns the bytes freed.
	Release() uint64
}

var (
	_ Contexts = (*PromptEncoder)(nil)
	_ Contexts = (*Table)(nil)
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
func TemplateFor(f Family) tokenizer.ChatTemplate {
	if f == FamilyMistral {
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

// Name is the text encoder's name.
func (p *PromptEncoder) Name() string { return p.Encoder.Spec().Name }

// Layers are the stacked hidden-state indices.
func (p *PromptEncoder) Layers() []int { return p.Encoder.Spec().Layers }

// Release frees the encoder's weights and returns the bytes freed.
func (p *PromptEncoder) Release() uint64 { return p.Encoder.Release() }

// fileID is a short content hash of a file, for identities.
func fileID(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:6])
}

// LoadPromptEncoder loads the text encoder a FLUX.2 variant uses from a
// Hugging Face folder (config.json + safetensors, sharded or not) and its
// tokenizer folder, checking that the folder holds that encoder's
// architecture; the variant fixes the layer set and padding. quantize
// (none, int8, fp8, nf4) stores the decoder layers quantized.
func LoadPromptEncoder(backend backends.Backend, encoderDir, tokenizerDir, variant string, dtype dtypes.DType, quantize quant.Scheme) (*PromptEncoder, error) {
	spec, err := SpecForVariant(variant)
	if err != nil {
		return nil, err
	}
	return LoadPromptEncoderSpec(backend, encoderDir, tokenizerDir, "FLUX.2 "+variant, spec, dtype, quantize)
}

// LoadPromptEncoderSpec is LoadPromptEncoder for a text encoder spec of
// one's own (layer set, padding, prompt length: Flora's embedded demo
// model); user names the model needing it, for messages. The folder's
// config.json must hold spec's family and width.
func LoadPromptEncoderSpec(backend backends.Backend, encoderDir, tokenizerDir, user string, spec Spec, dtype dtypes.DType, quantize quant.Scheme) (*PromptEncoder, error) {
	cfg, err := ConfigFromHFFile(filepath.Join(encoderDir, "config.json"))
	if err != nil {
		return nil, err
	}
	if cfg.Family != spec.Config.Family || cfg.Hidden != spec.Config.Hidden {
		return nil, fmt.Errorf("%s holds a %s model of width %d, but %s needs %s (%s, width %d)",
			encoderDir, cfg.Family, cfg.Hidden, user, spec.Name, spec.Config.Family, spec.Config.Hidden)
	}
	spec.Config = cfg
	ck, err := weights.OpenCheckpoint(encoderDir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	enc, err := Load(backend, ck, encoderDir, spec, LoadOptions{DType: dtype, IgnoreUnexpected: true, Quantize: quantize})
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(tokenizerDir)
	if err != nil {
		enc.Release()
		return nil, err
	}
	return &PromptEncoder{Encoder: enc, Tokenizer: tok, Template: TemplateFor(cfg.Family), MaxLen: spec.MaxLength,
		TokenizerID: fileID(tok.Source())}, nil
}
