// Package tensorload holds what the model loaders (flux2, textenc, vae)
// share: Source, the named-tensor reader a checkpoint is, and Problems, the
// every-problem-at-once report of a checkpoint that does not fit.
package tensorload
