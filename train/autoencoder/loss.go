package autoencoder

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with a dot import.

	"github.com/flora-ml/flora/model/vae"
)

// logVarRange bounds the encoder's log-variance before it is used, as
// diffusers' DiagonalGaussianDistribution clamps it (Min/Max keep the
// gradient defined on every backend).
const logVarMin, logVarMax = -30.0, 20.0

// lossGraph returns the training program's graph function. Inputs: pixels
// [B, 3, c, c] (float32, [-1, 1]), the posterior noise ε [B, Z, c/f, c/f],
// then the trainable weights in names order. Outputs: the loss, its
// reconstruction and KL parts, then the gradient of the loss with respect
// to each weight (names order).
func lossGraph(net vae.Net, names []string, klWeight float64) func([]*Node) []*Node {
	return func(inputs []*Node) []*Node {
		x, eps, params := inputs[0], inputs[1], inputs[2:]
		byName := make(map[string]*Node, len(names))
		for i, n := range names {
			byName[n] = params[i]
		}
		w := vae.WeightsFromMap(byName)
		total, recon, kl := lossTerms(net, w, x, eps, klWeight)
		outs := []*Node{total, recon, kl}
		return append(outs, Gradient(total, params...)...)
	}
}

// lossTerms builds loss = recon + klWeight·kl for images x and noise eps:
// recon is the mean squared error of decode(mean + exp(logvar/2)·ε) against
// x, kl the element mean of KL(N(mean, exp(logvar)) ‖ N(0, 1)).
func lossTerms(net vae.Net, w vae.Weights, x, eps *Node, klWeight float64) (total, recon, kl *Node) {
	z := net.Config.ZChannels
	moments := ConvertDType(net.Encoder(w, x), dtypes.Float32)
	mean := SliceAxis(moments, 1, AxisRange(0, z))
	logVar := SliceAxis(moments, 1, AxisRange(z, 2*z))
	logVar = MaxScalar(MinScalar(logVar, logVarMax), logVarMin)
	sample := Add(mean, Mul(Exp(MulScalar(logVar, 0.5)), eps))
	out := ConvertDType(net.Decoder(w, sample), dtypes.Float32)
	recon = ReduceAllMean(Square(Sub(out, x)))
	kl = MulScalar(ReduceAllMean(Sub(Add(Square(mean), Exp(logVar)), AddScalar(logVar, 1))), 0.5)
	total = recon
	if klWeight > 0 {
		total = Add(recon, MulScalar(kl, klWeight))
	}
	return total, recon, kl
}
