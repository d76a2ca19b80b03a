package textenc

import "github.com/flora-ml/flora/model/quant"

// WeightBytes estimates the device memory of the weights an Encoder for
// this spec holds: the embeddings and the decoder layers up to the deepest
// selected one (and the final norm when needed), with the layers' linear
// weights stored by scheme (none: computeBytes per value) as
// LoadOptions.Quantize stores them.
func (s Spec) WeightBytes(scheme quant.Scheme, computeBytes int) int64 {
	var total int64
	for name, dims := range s.Config.NeededParamShapes(s.Depth(), s.needsFinalNorm()) {
		n := int64(1)
		for _, d := range dims {
			n *= int64(d)
		}
		if scheme == "" || scheme == quant.None || !quantizable(name, dims) {
			total += n * int64(computeBytes)
			continue
		}
		switch scheme {
		case quant.Int8, quant.FP8:
			total += n + 4*int64(dims[0])
		case quant.NF4:
			blocks := (n + quant.NF4Block - 1) / quant.NF4Block
			total += n/2 + blocks + 4*((blocks+quant.DoubleQuantBlock-1)/quant.DoubleQuantBlock) + 4
		}
	}
	return total
}

// EncodeBytes estimates the device memory of encoding a batch of prompts of
// maxLen tokens: the weights plus one layer's activations (hidden states,
// q/k/v, attention probabilities in float32, MLP intermediates), the
// stacked hidden states kept for the output, and the largest weight
// dequantized to the compute dtype.
func (s Spec) EncodeBytes(scheme quant.Scheme, computeBytes, batch, maxLen int) int64 {
	c := s.Config
	b, l, cb := int64(max(batch, 1)), int64(maxLen), int64(computeBytes)
	layer := b * l * (int64(4*c.Hidden+c.NumHeads*c.HeadDim+2*c.NumKVHeads*c.HeadDim+2*c.Intermediate) * cb)
	attn := b * int64(c.NumHeads) * l * l * 4
	states := b * l * int64(c.Hidden) * int64(len(s.Layers)+1) * 4
	largest := int64(c.Intermediate) * int64(c.Hidden) * cb
	return s.WeightBytes(scheme, computeBytes) + layer + attn + states + largest
}
