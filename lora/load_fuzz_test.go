package lora

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// FuzzLoad: Load never panics on LoRA-looking files with arbitrary names,
// shapes, dtypes and PEFT metadata; it returns an adapter or an error naming
// the file, and an adapter loaded for a model fits it. Each input line is
// "name d0 d1 ... [DTYPE]" (one zero-filled tensor, F32 unless a safetensors
// dtype such as BF16 ends the line).
func FuzzLoad(f *testing.F) {
	f.Add("diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight 2 96\ndiffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight 288 2\ndiffusion_model.double_blocks.0.img_attn.qkv.alpha", "")
	f.Add("transformer.transformer_blocks.0.attn.to_q.lora_A.weight 2 96\ntransformer.transformer_blocks.0.attn.to_q.lora_B.weight 96 2",
		`{"transformer.lora_alpha": 3, "transformer.alpha_pattern": {"to_q": 2, "(": 1}}`)
	f.Add("transformer_blocks.1.attn.to_k.lora_A.weight 2 96\ntransformer_blocks.1.attn.to_k.lora_B.weight 95 2", `{"use_rslora": true}`)
	f.Add("lora_unet_single_blocks_0_linear1.lora_down.weight 0 96\nlora_unet_single_blocks_0_linear1.lora_up.weight 864 0", "")
	f.Add("norm_out.linear.lora_A.weight 1 96\nnorm_out.linear.lora_B.weight 191 1", "[]")
	f.Add("diffusion_model.final_layer.adaLN_modulation.1.lora_A.weight 2 96 1\ndiffusion_model.final_layer.adaLN_modulation.1.lora_B.weight 192 2", `{"lora_alpha": "x"}`)
	f.Add("lora_unet_double_blocks_0_img_mlp_0.lora_down.weight 2 96 BF16\nlora_unet_double_blocks_0_img_mlp_0.lora_up.weight 384 2 F16\nlora_unet_double_blocks_0_img_mlp_0.alpha I64", "")
	f.Add("transformer.single_transformer_blocks.0.attn.to_out.lora_A.weight 2 480 F8_E4M3\ntransformer.single_transformer_blocks.0.attn.to_out.lora_B.weight 96 2 U8", `{"r": 2, "lora_alpha": 1e309, "rank_pattern": {"to_out": 0}}`)
	cfg := flux2.TinyConfig()
	// One file, rewritten in place by each run (no atomic write, no fsync):
	// creating and syncing a file per run made 10^6 runs take hours.
	path := filepath.Join(f.TempDir(), "f.safetensors")
	f.Fuzz(func(t *testing.T, spec, peft string) {
		var ts []fuzzTensor
		seen := map[string]bool{}
		total := 0
		for _, line := range strings.Split(spec, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || len(fields) > 5 || seen[fields[0]] {
				continue
			}
			seen[fields[0]] = true
			dt := weights.F32
			if last := fields[len(fields)-1]; len(fields) > 1 && weights.DType(last).Known() {
				dt = weights.DType(last)
				fields = fields[:len(fields)-1]
			}
			shape := []int{}
			n := 1
			for _, s := range fields[1:] {
				d, err := strconv.Atoi(s)
				if err != nil || d < 0 || d > 1000 {
					return
				}
				shape = append(shape, d)
				n *= d
			}
			if total += n * dt.Size(); total > 1<<18 {
				return
			}
			ts = append(ts, fuzzTensor{fields[0], dt, shape, n * dt.Size()})
		}
		md := map[string]string{}
		if peft != "" {
			md["lora_adapter_metadata"] = peft
		}
		if !writeSafetensors(path, ts, md) {
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

// fuzzTensor is one zero-filled tensor of a FuzzLoad file.
type fuzzTensor struct {
	name  string
	dtype weights.DType
	shape []int
	bytes int
}

// writeSafetensors writes ts and metadata as a safetensors file at path
// without syncing; it reports false for names no safetensors file can hold.
func writeSafetensors(path string, ts []fuzzTensor, md map[string]string) bool {
	header := map[string]any{}
	if len(md) > 0 {
		header["__metadata__"] = md
	}
	size := 0
	for _, t := range ts {
		if t.name == "__metadata__" || !utf8.ValidString(t.name) {
			return false
		}
		header[t.name] = map[string]any{"dtype": t.dtype, "shape": t.shape, "data_offsets": []int{size, size + t.bytes}}
		size += t.bytes
	}
	js, err := json.Marshal(header)
	if err != nil {
		return false
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(append(out, js...), make([]byte, size)...)
	return os.WriteFile(path, out, 0o644) == nil
}
