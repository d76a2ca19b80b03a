// Package varname holds the naming schemes of the model variables that
// other packages add next to a base weight "M.weight" of module M: LoRA
// adapter slots (lora) and quantized storage (model/quant). Every package
// that builds, recognises or strips such a name goes through here.
package varname
