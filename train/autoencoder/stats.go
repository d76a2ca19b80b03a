package autoencoder

import (
	"fmt"
	"image"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/vae"
)

// Why the statistics are set from the data: FLUX.2 feeds the flow model
// (p − running_mean)/sqrt(running_var + eps) for the patchified posterior
// means p (vae.NormalizeLatents). Training changes the encoder's output
// scale freely, so the statistics are measured rather than learnt: with the
// per-channel mean and variance of p over the training images the flow
// model sees latents of zero mean and unit variance per channel, the scale
// its noise schedule assumes.

// LatentStats returns the per-channel mean and (population) variance of the
// patchified encoder means over the images: each image is center-cropped
// to the largest multiple of the pixels per latent token and encoded whole.
func LatentStats(backend backends.Backend, v *vae.VAE, images *Images) (mean, variance []float64, err error) {
	if images == nil || len(images.List) == 0 {
		return nil, nil, errNoImages
	}
	e, names, err := patchedMeanProgram(backend, v)
	if err != nil {
		return nil, nil, err
	}
	k := v.Config.LatentChannels()
	sum, sumSq := make([]float64, k), make([]float64, k)
	var count float64
	ph, pw := v.Config.PixelsPerLatent()
	for i, img := range images.List {
		b := img.Bounds()
		h, w := b.Dy()/ph*ph, b.Dx()/pw*pw
		if h == 0 || w == 0 {
			return nil, nil, fmt.Errorf("image %s (%dx%d) is smaller than one latent token (%dx%d pixels)", images.name(i), b.Dx(), b.Dy(), pw, ph)
		}
		one := &Images{List: []*image.NRGBA{img}}
		px, err := one.crop(w, h)
		if err != nil {
			return nil, nil, err
		}
		args := []any{px}
		for _, n := range names {
			args = append(args, v.Weight(n))
		}
		outs, err := e.Exec(args...)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding %s for the latent statistics: %w", images.name(i), err)
		}
		plane := (h / ph) * (w / pw)
		tensors.ConstFlatData(outs[0], func(flat []float32) {
			for c := 0; c < k; c++ {
				for _, x := range flat[c*plane : (c+1)*plane] {
					sum[c] += float64(x)
					sumSq[c] += float64(x) * float64(x)
				}
			}
		})
		count += float64(plane)
	}
	mean, variance = make([]float64, k), make([]float64, k)
	for c := range mean {
		mean[c] = sum[c] / count
		variance[c] = max(sumSq[c]/count-mean[c]*mean[c], 0)
	}
	return mean, variance, nil
}

// SetLatentStats sets bn.running_mean and bn.running_var to LatentStats.
func SetLatentStats(backend backends.Backend, v *vae.VAE, images *Images) error {
	mean, variance, err := LatentStats(backend, v, images)
	if err != nil {
		return fmt.Errorf("latent statistics: %w", err)
	}
	m, s := make([]float32, len(mean)), make([]float32, len(mean))
	for i := range mean {
		m[i], s[i] = float32(mean[i]), float32(variance[i])
	}
	if err := v.SetWeight(bnMean, tensors.FromFlatDataAndDimensions(m, len(m))); err != nil {
		return err
	}
	return v.SetWeight(bnVar, tensors.FromFlatDataAndDimensions(s, len(s)))
}

// patchedMeanProgram builds the program images [1, 3, H, W] → patchified
// encoder means [1, K, H/ph, W/pw] (float32) and lists its weight inputs.
func patchedMeanProgram(backend backends.Backend, v *vae.VAE) (*Exec, []string, error) {
	var names []string
	for _, n := range v.Config.ParamNames() {
		if strings.HasPrefix(n, "encoder.") {
			names = append(names, n)
		}
	}
	net, c := v.Net(), v.Config
	e, err := NewExec(backend, func(inputs []*Node) *Node {
		byName := map[string]*Node{}
		for i, n := range names {
			byName[n] = inputs[1+i]
		}
		mean := net.EncoderMean(vae.WeightsFromMap(byName), ConvertDType(inputs[0], v.DType()))
		return ConvertDType(vae.Patchify(mean, c.PatchSize[0], c.PatchSize[1]), dtypes.Float32)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("building the latent statistics program: %w", err)
	}
	return e.WithName("autoencoder_latent_stats").SetMaxCache(-1), names, nil
}
