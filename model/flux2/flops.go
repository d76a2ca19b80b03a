package flux2

// ForwardFLOPs estimates the floating-point operations of one forward pass
// for batch b with n image and l text tokens: 2·m·k·n for every matmul
// (linear layers, q·kᵀ and probs·v); element-wise work is ignored. A
// backward pass costs about twice the forward.
func (c Config) ForwardFLOPs(b, n, l int) float64 {
	d, m := float64(c.Hidden), float64(c.MLPHidden())
	fn, fl, t := float64(n), float64(l), float64(n+l)
	bf := float64(b)
	flops := 2 * fn * float64(c.InChannels) * d // img_in
	flops += 2 * fl * float64(c.ContextDim) * d // txt_in
	attn := 2 * 2 * t * t * d                   // q·kᵀ and probs·v over all heads
	// Double block: per stream qkv 3D², proj D², mlp 2M·D + M·D.
	perTok := 3*d*d + d*d + 3*m*d
	flops += float64(c.Depth) * (2*t*perTok + attn)
	// Single block: linear1 (3D+2M)·D, linear2 D·(D+M).
	single := (3*d+2*m)*d + d*(d+m)
	flops += float64(c.DepthSingle) * (2*t*single + attn)
	flops += 2 * fn * d * float64(c.InChannels) // final linear
	return bf * flops
}
