// Package autoencoder trains a FLUX.2-architecture autoencoder (model/vae)
// from scratch or from a starting point: the small trainer behind
// `flora train` jobs of kind autoencoder, meant for Flora's nano and demo
// autoencoders (tens of thousands of weights, 64×64 images), not for the
// 32-channel FLUX.2 VAE at scale.
//
// A step draws a batch of random crops (with random horizontal flips) of
// the training images, encodes them, samples z = mean + exp(logvar/2)·ε
// from the encoder's Gaussian posterior (ε from the run's seeded RNG),
// decodes z and minimises
//
//	loss = mean((decode(z) − x)²) + kl_weight · mean(½(mean² + exp(logvar) − 1 − logvar))
//
// (both terms averaged over elements) over every weight except the latent
// BatchNorm statistics, with the train package's optimizers (AdamW by
// default, global gradient norm clipped).
//
// The BatchNorm statistics (bn.running_mean, bn.running_var) are not
// trained: FLUX.2 normalises the patchified posterior means with them before
// the flow model sees a latent, so after training (and at every save) they
// are set to the per-channel mean and variance of the patchified encoder
// means over the training images (SetLatentStats). The flow model then gets
// latents of about zero mean and unit variance per channel, whatever scale
// the encoder drifted to.
package autoencoder
