package lora

// UpdateNorm is the Frobenius norm of a module's whole update Σ parts
// (alpha/rank)·B·A, exact also when parallel parts overlap: the parts are
// combined into one (ranks concatenated, scales folded into B) and its norm
// is computed from the rank×rank Gram matrices (Part.Norm). 0 for a module
// without parts.
func (a *Adapter) UpdateNorm(module string) float64 {
	parts := a.Layers[module]
	if len(parts) == 0 {
		return 0
	}
	if len(parts) == 1 && parts[0].LoKr != nil {
		return parts[0].Norm()
	}
	return dense(module, parts, layerOut(a, module, nil)).Norm()
}
