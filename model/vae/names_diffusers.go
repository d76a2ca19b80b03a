package vae

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Diffusers (AutoencoderKLFlux2) stores the same tensors under other names:
// down_blocks/up_blocks with resnets, conv_shortcut for nin_shortcut,
// mid_block.resnets.{0,1} and attentions.0 (to_q, to_k, to_v, to_out.0 with
// 2-D [C, C] weights), conv_norm_out, and quant_conv / post_quant_conv at the
// top level. Decoder up_blocks run in execution order, so the official
// decoder level l is up_blocks.(levels−1−l).

var (
	reLevelBlock = regexp.MustCompile(`^(encoder\.down|decoder\.up)\.(\d+)\.(block\.(\d+)|downsample|upsample)\.(.+)$`)
	reMid        = regexp.MustCompile(`^(encoder|decoder)\.mid\.(block_1|block_2|attn_1)\.(.+)$`)
)

// diffusersAttn maps the official attention module names to diffusers'.
var diffusersAttn = map[string]string{
	"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0",
}

// diffusersTopLevel maps official names that move or are renamed wholesale.
var diffusersTopLevel = map[string]string{
	"encoder.quant_conv.weight":      "quant_conv.weight",
	"encoder.quant_conv.bias":        "quant_conv.bias",
	"decoder.post_quant_conv.weight": "post_quant_conv.weight",
	"decoder.post_quant_conv.bias":   "post_quant_conv.bias",
	"encoder.norm_out.weight":        "encoder.conv_norm_out.weight",
	"encoder.norm_out.bias":          "encoder.conv_norm_out.bias",
	"decoder.norm_out.weight":        "decoder.conv_norm_out.weight",
	"decoder.norm_out.bias":          "decoder.conv_norm_out.bias",
}

// DiffusersName returns the diffusers name of an official tensor name for
// this architecture (names that do not change are returned as they are).
func (c Config) DiffusersName(official string) (string, error) {
	if d, ok := diffusersTopLevel[official]; ok {
		return d, nil
	}
	if m := reLevelBlock.FindStringSubmatch(official); m != nil {
		l, _ := strconv.Atoi(m[2])
		if l >= c.NumLevels() {
			return "", fmt.Errorf("no diffusers name for %q: level %d of %d", official, l, c.NumLevels())
		}
		encoder := m[1] == "encoder.down"
		var b strings.Builder
		if encoder {
			fmt.Fprintf(&b, "encoder.down_blocks.%d.", l)
		} else {
			fmt.Fprintf(&b, "decoder.up_blocks.%d.", c.NumLevels()-1-l)
		}
		switch {
		case m[4] != "":
			fmt.Fprintf(&b, "resnets.%s.", m[4])
		case m[3] == "downsample":
			b.WriteString("downsamplers.0.")
		default:
			b.WriteString("upsamplers.0.")
		}
		b.WriteString(strings.Replace(m[5], "nin_shortcut.", "conv_shortcut.", 1))
		return b.String(), nil
	}
	if m := reMid.FindStringSubmatch(official); m != nil {
		pre := m[1] + ".mid_block."
		switch m[2] {
		case "block_1":
			return pre + "resnets.0." + strings.Replace(m[3], "nin_shortcut.", "conv_shortcut.", 1), nil
		case "block_2":
			return pre + "resnets.1." + strings.Replace(m[3], "nin_shortcut.", "conv_shortcut.", 1), nil
		}
		module, param, ok := strings.Cut(m[3], ".")
		if d, known := diffusersAttn[module]; ok && known {
			return pre + "attentions.0." + d + "." + param, nil
		}
		return "", fmt.Errorf("no diffusers name for %q", official)
	}
	return official, nil
}

// isAttentionProjection reports whether an official name is a 1×1
// attention projection weight, which diffusers stores as a 2-D [C, C] matrix.
func isAttentionProjection(official string) bool {
	if !strings.Contains(official, ".mid.attn_1.") || !strings.HasSuffix(official, ".weight") {
		return false
	}
	return !strings.HasSuffix(official, ".norm.weight")
}
