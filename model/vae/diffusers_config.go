package vae

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flora-ml/flora/internal/jsonfield"
)

// diffusersConfig holds the AutoencoderKLFlux2 config.json fields that shape
// the model. Pointers tell absent fields (diffusers defaults) from zeros.
type diffusersConfig struct {
	ClassName               string   `json:"_class_name"`
	InChannels              *int     `json:"in_channels"`
	OutChannels             *int     `json:"out_channels"`
	DownBlockTypes          []string `json:"down_block_types"`
	UpBlockTypes            []string `json:"up_block_types"`
	BlockOutChannels        []int    `json:"block_out_channels"`
	DecoderBlockOutChannels []int    `json:"decoder_block_out_channels"`
	LayersPerBlock          *int     `json:"layers_per_block"`
	ActFn                   *string  `json:"act_fn"`
	LatentChannels          *int     `json:"latent_channels"`
	NormNumGroups           *int     `json:"norm_num_groups"`
	UseQuantConv            *bool    `json:"use_quant_conv"`
	UsePostQuantConv        *bool    `json:"use_post_quant_conv"`
	MidBlockAddAttention    *bool    `json:"mid_block_add_attention"`
	BatchNormEps            *float64 `json:"batch_norm_eps"`
	PatchSize               []int    `json:"patch_size"`
}

// ParseDiffusersConfig reads a diffusers AutoencoderKLFlux2 config.json (the
// vae/ folder of a diffusers repository). Absent fields take diffusers'
// defaults, which are the published model's. It is the way to load diffusers
// models whose GroupNorm group count is not 32.
func ParseDiffusersConfig(data []byte) (Config, error) {
	var d diffusersConfig
	if err := json.Unmarshal(data, &d); err != nil {
		return Config{}, fmt.Errorf("parsing diffusers VAE config: %w", err)
	}
	if d.ClassName != "" && d.ClassName != "AutoencoderKLFlux2" {
		return Config{}, fmt.Errorf("diffusers VAE config is a %s, not an AutoencoderKLFlux2", d.ClassName)
	}
	c := FLUX2Config()
	jsonfield.Set(&c.InChannels, d.InChannels)
	jsonfield.Set(&c.OutChannels, d.OutChannels)
	jsonfield.Set(&c.NumResBlocks, d.LayersPerBlock)
	jsonfield.Set(&c.ZChannels, d.LatentChannels)
	jsonfield.Set(&c.Groups, d.NormNumGroups)
	jsonfield.Set(&c.QuantConv, d.UseQuantConv)
	jsonfield.Set(&c.PostQuantConv, d.UsePostQuantConv)
	jsonfield.Set(&c.MidAttention, d.MidBlockAddAttention)
	jsonfield.Set(&c.BatchNormEps, d.BatchNormEps)
	var errs []error
	if d.ActFn != nil && *d.ActFn != "silu" {
		errs = append(errs, fmt.Errorf("act_fn %q is not supported (only silu)", *d.ActFn))
	}
	if d.PatchSize != nil {
		if len(d.PatchSize) != 2 {
			errs = append(errs, fmt.Errorf("patch_size %v must have 2 entries", d.PatchSize))
		} else {
			c.PatchSize = [2]int{d.PatchSize[0], d.PatchSize[1]}
		}
	}
	if d.BlockOutChannels != nil {
		if len(d.BlockOutChannels) == 0 || len(d.BlockOutChannels) > 10 || d.BlockOutChannels[0] <= 0 {
			return Config{}, fmt.Errorf("block_out_channels %v must list 1 to 10 positive widths", d.BlockOutChannels)
		}
		c.Ch = d.BlockOutChannels[0]
		c.ChMult = make([]int, len(d.BlockOutChannels))
		for l, ch := range d.BlockOutChannels {
			if ch%c.Ch != 0 {
				errs = append(errs, fmt.Errorf("block_out_channels %v: %d is not a multiple of the first width", d.BlockOutChannels, ch))
			}
			c.ChMult[l] = ch / c.Ch
		}
	}
	for _, blocks := range []struct {
		name, want string
		types      []string
	}{{"down_block_types", "DownEncoderBlock2D", d.DownBlockTypes}, {"up_block_types", "UpDecoderBlock2D", d.UpBlockTypes}} {
		if blocks.types == nil {
			continue
		}
		if len(blocks.types) != len(c.ChMult) {
			errs = append(errs, fmt.Errorf("%s has %d entries, block_out_channels %d", blocks.name, len(blocks.types), len(c.ChMult)))
		}
		for _, t := range blocks.types {
			if t != blocks.want {
				errs = append(errs, fmt.Errorf("%s entry %q is not supported (only %s)", blocks.name, t, blocks.want))
			}
		}
	}
	if dec := d.DecoderBlockOutChannels; dec != nil {
		if len(dec) != len(c.ChMult) || c.ChMult[0] <= 0 || dec[0]%c.ChMult[0] != 0 {
			errs = append(errs, fmt.Errorf("decoder_block_out_channels %v does not match block_out_channels levels", dec))
		} else {
			c.DecoderCh = dec[0] / c.ChMult[0]
			for l, ch := range dec {
				if ch != c.DecoderCh*c.ChMult[l] {
					errs = append(errs, fmt.Errorf("decoder_block_out_channels %v is not proportional to block_out_channels (not supported)", dec))
					break
				}
			}
			if c.DecoderCh == c.Ch {
				c.DecoderCh = 0
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("diffusers VAE config: %w", err)
	}
	return c, nil
}

// DiffusersConfigJSON is the AutoencoderKLFlux2 config.json of a diffusers
// vae/ folder holding this architecture (what ParseDiffusersConfig reads
// back).
func (c Config) DiffusersConfigJSON() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.NormEps != GroupNormEpsilon {
		return nil, fmt.Errorf("diffusers' AutoencoderKLFlux2 has GroupNorm epsilon %g, not %g", GroupNormEpsilon, c.NormEps)
	}
	act := "silu"
	d := diffusersConfig{ClassName: "AutoencoderKLFlux2", InChannels: &c.InChannels, OutChannels: &c.OutChannels,
		LayersPerBlock: &c.NumResBlocks, ActFn: &act, LatentChannels: &c.ZChannels, NormNumGroups: &c.Groups,
		UseQuantConv: &c.QuantConv, UsePostQuantConv: &c.PostQuantConv, MidBlockAddAttention: &c.MidAttention,
		BatchNormEps: &c.BatchNormEps, PatchSize: c.PatchSize[:]}
	for l := range c.ChMult {
		d.DownBlockTypes = append(d.DownBlockTypes, "DownEncoderBlock2D")
		d.UpBlockTypes = append(d.UpBlockTypes, "UpDecoderBlock2D")
		d.BlockOutChannels = append(d.BlockOutChannels, c.EncoderChannels(l))
		d.DecoderBlockOutChannels = append(d.DecoderBlockOutChannels, c.DecoderChannels(l))
	}
	return json.MarshalIndent(d, "", "  ")
}
