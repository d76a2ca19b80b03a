package bundle

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/vae"
	"github.com/flora-ml/flora/model/weights"
)

// Export layouts: the folder shapes Resolve finds a model's parts in.
const (
	// ExportDiffusers is a diffusers model folder: transformer/, vae/,
	// text_encoder/, tokenizer/ and model_index.json.
	ExportDiffusers = "diffusers"
	// ExportOfficial is Black Forest Labs' layout: the transformer as one
	// official-named file (ExportOfficialFile) with ae.safetensors next to
	// it, plus the text_encoder/ and tokenizer/ folders.
	ExportOfficial = "official"
)

// ExportOfficialFile is the transformer file of an official-layout export.
const ExportOfficialFile = "flux2-embedded-tiny.safetensors"

// Export writes a built-in model (embedded:tiny) as files in layout
// (ExportDiffusers or ExportOfficial) into the folder dir, which Load then
// reads like any model on disk (Path = dir for the diffusers layout, or
// dir/ExportOfficialFile). The folder is written under a temporary name and
// renamed when complete; an existing non-empty dir is refused unless
// overwrite. It returns the model path to load.
func Export(backend backends.Backend, model, layout, dir string, overwrite bool) (string, error) {
	if !IsEmbedded(model) {
		return "", fmt.Errorf("%s is not a built-in model: only built-in models (embedded:NAME) can be exported (a model on disk already is files)", model)
	}
	if layout != ExportDiffusers && layout != ExportOfficial {
		return "", fmt.Errorf("unknown export layout %q: use %s or %s", layout, ExportDiffusers, ExportOfficial)
	}
	c, err := LoadEmbedded(backend, model, dtypes.Float32, quant.None)
	if err != nil {
		return "", err
	}
	defer c.Text.Release()
	err = writeFolder(dir, overwrite, func(tmp string) error {
		if err := exportText(tmp); err != nil {
			return err
		}
		if layout == ExportOfficial {
			return exportOfficial(tmp, c)
		}
		return exportDiffusers(tmp, c)
	})
	if err != nil {
		return "", err
	}
	if layout == ExportOfficial {
		return filepath.Join(dir, ExportOfficialFile), nil
	}
	return dir, nil
}

// exportOfficial writes the transformer file and ae.safetensors (which
// carries its architecture under VAEConfigKey: the demo's GroupNorm group
// count is not visible in the shapes).
func exportOfficial(dir string, c *Components) error {
	meta := map[string]string{"format": "bfl", "generator": "flora model export", "model": c.Name}
	if err := c.Transformer.SaveCheckpoint(filepath.Join(dir, ExportOfficialFile), flux2.LayoutOfficial, meta); err != nil {
		return err
	}
	cfg, err := c.VAE.Config.DiffusersConfigJSON()
	if err != nil {
		return err
	}
	vaeMeta := map[string]string{"generator": "flora model export", "model": c.Name, VAEConfigKey: string(cfg)}
	return c.VAE.SaveCheckpoint(filepath.Join(dir, "ae.safetensors"), vae.LayoutOfficial, vaeMeta)
}

// exportDiffusers writes the transformer/ and vae/ folders and
// model_index.json.
func exportDiffusers(dir string, c *Components) error {
	meta := map[string]string{"format": "pt", "generator": "flora model export", "model": c.Name}
	err := writeDiffusersPart(filepath.Join(dir, "transformer"), c.Transformer.Config.DiffusersConfigJSON, func(path string) error {
		return c.Transformer.SaveCheckpoint(path, flux2.LayoutDiffusers, meta)
	})
	if err != nil {
		return err
	}
	err = writeDiffusersPart(filepath.Join(dir, "vae"), c.VAE.Config.DiffusersConfigJSON, func(path string) error {
		return c.VAE.SaveCheckpoint(path, vae.LayoutDiffusers, meta)
	})
	if err != nil {
		return err
	}
	index, err := json.MarshalIndent(map[string]any{
		"_class_name":  "Flux2KleinPipeline",
		"transformer":  []string{"diffusers", flux2.DiffusersClassName},
		"vae":          []string{"diffusers", "AutoencoderKLFlux2"},
		"text_encoder": []string{"transformers", "Qwen3ForCausalLM"},
		"tokenizer":    []string{"transformers", "Qwen2TokenizerFast"},
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeJSONFile(filepath.Join(dir, "model_index.json"), index)
}

// writeDiffusersPart writes one diffusers model folder: config.json and
// diffusion_pytorch_model.safetensors.
func writeDiffusersPart(dir string, config func() ([]byte, error), save func(path string) error) error {
	cfg, err := config()
	if err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	return save(filepath.Join(dir, "diffusion_pytorch_model.safetensors"))
}

// qwenChatTemplate is Qwen3's chat template reduced to what the FLUX.2
// pipelines render (tokenizer.QwenChat): user and assistant turns, the
// generation prompt, and the empty think block of enable_thinking=False.
const qwenChatTemplate = "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
	"{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"

// exportText writes text_encoder/ (config.json, model.safetensors) and
// tokenizer/ (tokenizer.json, tokenizer_config.json).
func exportText(dir string) error {
	spec := embeddedTextSpec()
	cfg, err := spec.Config.HFConfigJSON()
	if err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(dir, "text_encoder", "config.json"), cfg); err != nil {
		return err
	}
	src := embeddedTextWeights()
	var ts []weights.TensorData
	for _, name := range src.Names() {
		td, err := weights.FromTensor(name, src[name])
		if err != nil {
			return err
		}
		ts = append(ts, td)
	}
	if err := weights.WriteFile(filepath.Join(dir, "text_encoder", "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(dir, "tokenizer", "tokenizer.json"), qwen3TokenizerJSON); err != nil {
		return err
	}
	tc, err := json.MarshalIndent(map[string]any{
		"tokenizer_class": "Qwen2Tokenizer", "pad_token": "<|endoftext|>", "eos_token": "<|im_end|>",
		"padding_side": "right", "model_max_length": spec.MaxLength, "chat_template": qwenChatTemplate,
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeJSONFile(filepath.Join(dir, "tokenizer", "tokenizer_config.json"), tc)
}
