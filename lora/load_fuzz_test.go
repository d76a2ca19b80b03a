package lora

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// FuzzLoad: Load never panics on LoRA-looking files with arbitrary names,
// shapes and PEFT metadata; it returns an adapter or an error naming the
// file. Each input line is "name d0 d1 ..." (one tensor).
func FuzzLoad(f *testing.F) {
	f.Add("diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight 2 96\ndiffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight 288 2\ndiffusion_model.double_blocks.0.img_attn.qkv.alpha", "")
	f.Add("transformer.transformer_blocks.0.attn.to_q.lora_A.weight 2 96\ntransformer.transformer_blocks.0.attn.to_q.lora_B.weight 96 2",
		`{"transformer.lora_alpha": 3, "transformer.alpha_pattern": {"to_q": 2, "(": 1}}`)
	f.Add("transformer_blocks.1.attn.to_k.lora_A.weight 2 96\ntransformer_blocks.1.attn.to_k.lora_B.weight 95 2", `{"use_rslora": true}`)
	f.Add("lora_unet_single_blocks_0_linear1.lora_down.weight 0 96\nlora_unet_single_blocks_0_linear1.lora_up.weight 864 0", "")
	f.Add("norm_out.linear.lora_A.weight 1 96\nnorm_out.linear.lora_B.weight 191 1", "[]")
	f.Add("diffusion_model.final_layer.adaLN_modulation.1.lora_A.weight 2 96 1\ndiffusion_model.final_layer.adaLN_modulation.1.lora_B.weight 192 2", `{"lora_alpha": "x"}`)
	cfg := flux2.TinyConfig()
	f.Fuzz(func(t *testing.T, spec, peft string) {
		var ts []weights.TensorData
		seen := map[string]bool{}
		for _, line := range strings.Split(spec, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || len(fields) > 4 || seen[fields[0]] {
				continue
			}
			seen[fields[0]] = true
			shape := []int{}
			n := 1
			for _, s := range fields[1:] {
				d := 0
				for _, c := range s {
					if c < '0' || c > '9' || d > 1000 {
						d = -1
						break
					}
					d = d*10 + int(c-'0')
				}
				if d < 0 {
					return
				}
				shape = append(shape, d)
				n *= d
			}
			if n > 1<<16 {
				return
			}
			ts = append(ts, weights.Float32Data(fields[0], shape, make([]float32, n)))
		}
		md := map[string]string{}
		if peft != "" {
			md["lora_adapter_metadata"] = peft
		}
		path := filepath.Join(t.TempDir(), "f.safetensors")
		if err := weights.WriteFile(path, ts, md); err != nil {
			return
		}
		for _, c := range []*flux2.Config{nil, &cfg} {
			a, _, _, err := Load(path, c)
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error does not name the file: %v", err)
				}
				continue
			}
			if c != nil {
				if err := a.Validate(*c); err != nil {
					t.Errorf("Load returned an adapter that does not fit: %v", err)
				}
			}
		}
	})
}
