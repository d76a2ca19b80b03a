package flux2

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/flora-ml/flora/internal/fsutil"
)

// diffusersConfig is the part of a diffusers transformer config.json Flora reads.
type diffusersConfig struct {
	ClassName         string  `json:"_class_name,omitempty"`
	InChannels        int     `json:"in_channels"`
	NumLayers         int     `json:"num_layers"`
	NumSingleLayers   int     `json:"num_single_layers"`
	AttentionHeadDim  int     `json:"attention_head_dim"`
	NumAttentionHeads int     `json:"num_attention_heads"`
	JointAttentionDim int     `json:"joint_attention_dim"`
	MLPRatio          float64 `json:"mlp_ratio"`
	AxesDimsRope      []int   `json:"axes_dims_rope"`
	RopeTheta         float64 `json:"rope_theta"`
	GuidanceEmbeds    *bool   `json:"guidance_embeds"`
	PatchSize         int     `json:"patch_size"`
	// Written for diffusers only (Flora reads TimeEmbedDim as a constant).
	TimestepGuidanceChannels int `json:"timestep_guidance_channels,omitempty"`
}

// readDiffusersConfig reads config.json of a diffusers transformer folder.
func readDiffusersConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := fsutil.ReadFileLimited(path, fsutil.MaxConfigJSONBytes, "a config.json")
	if err != nil {
		return nil, err
	}
	var dc diffusersConfig
	if err := json.Unmarshal(data, &dc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dc.PatchSize > 1 {
		return nil, fmt.Errorf("%s: patch_size %d is not a FLUX.2 transformer (1)", path, dc.PatchSize)
	}
	if len(dc.AxesDimsRope) != 4 {
		return nil, fmt.Errorf("%s: axes_dims_rope %v must have 4 entries", path, dc.AxesDimsRope)
	}
	c := Config{
		InChannels: dc.InChannels, ContextDim: dc.JointAttentionDim,
		Hidden: dc.AttentionHeadDim * dc.NumAttentionHeads, NumHeads: dc.NumAttentionHeads,
		Depth: dc.NumLayers, DepthSingle: dc.NumSingleLayers,
		AxesDim: [4]int{dc.AxesDimsRope[0], dc.AxesDimsRope[1], dc.AxesDimsRope[2], dc.AxesDimsRope[3]},
		Theta:   dc.RopeTheta, MLPRatio: dc.MLPRatio, GuidanceEmbed: dc.GuidanceEmbeds == nil || *dc.GuidanceEmbeds,
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// DiffusersClassName is the diffusers class of a FLUX.2 transformer.
const DiffusersClassName = "Flux2Transformer2DModel"

// DiffusersConfigJSON is the config.json of a diffusers transformer folder
// holding this architecture (what readDiffusersConfig reads back).
func (c Config) DiffusersConfigJSON() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	guidance := c.GuidanceEmbed
	dc := diffusersConfig{ClassName: DiffusersClassName, InChannels: c.InChannels, NumLayers: c.Depth, NumSingleLayers: c.DepthSingle,
		AttentionHeadDim: c.Hidden / c.NumHeads, NumAttentionHeads: c.NumHeads, JointAttentionDim: c.ContextDim,
		MLPRatio: c.MLPRatio, AxesDimsRope: c.AxesDim[:], RopeTheta: c.Theta, GuidanceEmbeds: &guidance, PatchSize: 1,
		TimestepGuidanceChannels: TimeEmbedDim}
	return json.MarshalIndent(dc, "", "  ")
}
