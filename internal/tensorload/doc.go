// Package tensorload holds what the model loaders (flux2, textenc, vae)
// share: Source, the named-tensor reader a checkpoint is; Layout, the
// official-or-diffusers naming scheme, and the stored-name index of a
// source (StoredNames); Problems, the every-problem-at-once report of a
// checkpoint that does not fit; and element counts of shape maps.
package tensorload
