// Package vae is the FLUX.2 autoencoder (Black Forest Labs' AutoEncoder,
// diffusers' AutoencoderKLFlux2) in GoMLX: encoding images into the
// normalised, 2×2-patchified latents the transformer works on and decoding
// them back, exact to the official implementation, with loading of both the
// official (ae.safetensors) and the diffusers weight layouts, tiled encoding
// and decoding for large images, and conversions between images and pixel
// tensors (the transformer's token layout is flux2.PackTokens).
//
// Shapes follow PyTorch: images and activations are NCHW ([B, C, H, W]),
// convolution kernels OIHW ([out, in, kh, kw]) exactly as stored.
//
// Typical use:
//
//	v, err := vae.Load(backend, src, "ae.safetensors", vae.Options{})
//	latents, err := v.Encode(pixels) // [B, 3, H, W] in [-1, 1] → [B, 128, H/16, W/16]
//	pixels, err = v.Decode(latents)  // → [B, 3, H, W]
//	imgs, err := vae.ImagesFromPixels(pixels, vae.PixelRound)
//
// EncodeTiled and DecodeTiled bound memory for large images at the price of
// an approximation (see TileOptions). On the pure-Go backend convolutions
// run as sums of matrix products (ConvGEMM), ~16× faster than the backend's
// convolution op; elsewhere the backend's convolution is used.
package vae

import (
	_ "github.com/flora-ml/flora/internal/gomlxfix" // GoMLX v0.26 gradient fixes this package's graphs need, whatever backend the caller made.
)
