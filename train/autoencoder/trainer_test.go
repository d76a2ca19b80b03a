package autoencoder

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/vae"
)

// TestGradientMatchesFiniteDifferences compares the program's gradient of
// the loss (reconstruction + a large KL weight, so the log-variance path
// counts) with central differences on single weights of a small VAE.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	v := randomVAE(t, 8)
	opts := testOptions(t.TempDir(), 1, 2, 16, 1e-3)
	opts.KLWeight = 0.05
	tr := newTrainer(t, v, shapeImages(t, 6), opts)
	pixels, eps := fixedBatch(t, tr, 5, 2)
	params := tr.params()
	loss, grads, err := tr.lossAndGrads(pixels, eps, params)
	if err != nil {
		t.Fatal(err)
	}
	if !(loss[0] > 0) || math.Abs(loss[0]-(loss[1]+0.05*loss[2])) > 1e-5*loss[0] {
		t.Fatalf("loss %v is not recon + 0.05·kl", loss)
	}
	for _, tc := range []struct {
		name string
		idx  int
	}{
		{"decoder.conv_out.bias", 1},
		{"decoder.conv_out.weight", 40},
		{"encoder.conv_out.weight", 7},     // a mean channel's kernel
		{"encoder.conv_out.bias", 5},       // a log-variance channel
		{"encoder.conv_in.weight", 100},    // the whole encoder
		{"decoder.mid.attn_1.q.weight", 3}, // through the attention softmax
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := slices.Index(tr.names, tc.name)
			if i < 0 {
				t.Fatalf("%s is not trained", tc.name)
			}
			g := float64(flat(t, grads[i])[tc.idx])
			orig := flat(t, params[i])
			const h = 1e-2
			at := func(delta float64) float64 {
				vals := slices.Clone(orig)
				vals[tc.idx] += float32(delta)
				ps := slices.Clone(params)
				ps[i] = tensors.FromFlatDataAndDimensions(vals, params[i].Shape().Dimensions...)
				l, _, err := tr.lossAndGrads(pixels, eps, ps)
				if err != nil {
					t.Fatal(err)
				}
				return l[0]
			}
			fd := (at(h) - at(-h)) / (2 * h)
			if math.Abs(fd-g) > 0.03*math.Abs(g)+2e-5 || g == 0 {
				t.Errorf("gradient %.6g, finite difference %.6g", g, fd)
			}
		})
	}
}

// TestTrainingReducesLoss: a few steps from random:tiny (the demo
// architecture with random weights) on generated shapes lower the loss of a
// fixed batch.
func TestTrainingReducesLoss(t *testing.T) {
	v, err := vae.NewRandom(testutil.Backend(t), bundle.EmbeddedTinyVAEConfig(), 1, vae.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTrainer(t, v, shapeImages(t, 6), testOptions(t.TempDir(), 12, 4, 16, 3e-3))
	pixels, eps := fixedBatch(t, tr, 9, 4)
	before, _, err := tr.lossAndGrads(pixels, eps, tr.params())
	if err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	after, _, err := tr.lossAndGrads(pixels, eps, tr.params())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fixed-batch reconstruction loss %.4f → %.4f", before[1], after[1])
	if !(after[1] < 0.7*before[1]) {
		t.Errorf("reconstruction loss %.4f → %.4f: want a drop of at least 30%%", before[1], after[1])
	}
}

// TestResumeIsExact: N steps straight through Run equal N/2 steps,
// a checkpoint, and a new trainer resuming from it for the other N/2 —
// bit for bit, and the exported file loads back with the same weights.
func TestResumeIsExact(t *testing.T) {
	const n = 4
	imgs := shapeImages(t, 6)
	straightDir, resumedDir := t.TempDir(), t.TempDir()
	opts := testOptions(straightDir, n, 2, 16, 2e-3)
	opts.SaveEvery, opts.KeepLast = n/2, 1
	straight := newTrainer(t, randomVAE(t, 8), imgs, opts)
	sum, err := straight.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.EndStep != n || sum.Output == "" {
		t.Fatalf("straight run: %+v", sum)
	}
	if cks, _ := os.ReadDir(CheckpointsDir(straightDir)); len(cks) != 1 {
		t.Errorf("keep_last 1 left %d checkpoints", len(cks))
	}

	opts.OutDir = resumedDir
	first := newTrainer(t, randomVAE(t, 8), imgs, opts)
	for range n / 2 {
		if _, err := first.Step(); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := first.SaveCheckpoint(CheckpointsDir(resumedDir))
	if err != nil {
		t.Fatal(err)
	}
	second := newTrainer(t, randomVAE(t, 8), imgs, opts)
	if err := second.LoadCheckpoint(ck); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range straight.vae.Config.ParamNames() {
		a, b := flat(t, straight.vae.Weight(name)), flat(t, second.vae.Weight(name))
		if !slices.Equal(a, b) {
			t.Fatalf("%s differs after resume", name)
		}
	}
	// The exported file is the official layout vae.Load reads, with its
	// architecture in the metadata.
	loaded, err := bundle.LoadVAE(testutil.Backend(t), sum.Output, vae.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"decoder.conv_out.weight", bnMean, bnVar} {
		if !slices.Equal(flat(t, loaded.Weight(name)), flat(t, straight.vae.Weight(name))) {
			t.Errorf("exported %s differs from the trained one", name)
		}
	}
	for _, p := range []string{"metrics.jsonl", "loss.png", "previews/step-000002.png", "previews/step-000004.png"} {
		if _, err := os.Stat(filepath.Join(straightDir, p)); err != nil {
			t.Errorf("run output: %v", err)
		}
	}
}

// TestLatentStats: the BatchNorm statistics written are the per-channel
// mean and variance of the patchified posterior means, computed here from
// Encode with neutral statistics; afterwards Encode's latents are
// normalised.
func TestLatentStats(t *testing.T) {
	v := randomVAE(t, 8)
	imgs := shapeImages(t, 6)
	k := v.Config.LatentChannels()
	ones, zeros := make([]float32, k), make([]float32, k)
	for i := range ones {
		ones[i] = 1
	}
	if err := v.SetWeight(bnMean, tensors.FromFlatDataAndDimensions(zeros, k)); err != nil {
		t.Fatal(err)
	}
	if err := v.SetWeight(bnVar, tensors.FromFlatDataAndDimensions(ones, k)); err != nil {
		t.Fatal(err)
	}
	scale := math.Sqrt(1 + v.Config.BatchNormEps) // Encode divides by sqrt(var + eps)
	moments := func() (mean, variance []float64) {
		sum, sq := make([]float64, k), make([]float64, k)
		var count float64
		for i := range imgs.List {
			px, err := (&Images{List: imgs.List[i : i+1]}).crop(imgs.List[i].Bounds().Dx()/8*8, imgs.List[i].Bounds().Dy()/8*8)
			if err != nil {
				t.Fatal(err)
			}
			lat, err := v.Encode(px)
			if err != nil {
				t.Fatal(err)
			}
			vals := flat(t, lat)
			plane := len(vals) / k
			for c := 0; c < k; c++ {
				for _, x := range vals[c*plane : (c+1)*plane] {
					sum[c] += float64(x)
					sq[c] += float64(x) * float64(x)
				}
			}
			count += float64(plane)
		}
		mean, variance = make([]float64, k), make([]float64, k)
		for c := range mean {
			mean[c] = sum[c] / count
			variance[c] = sq[c]/count - mean[c]*mean[c]
		}
		return mean, variance
	}
	wantMean, wantVar := moments()
	for c := range wantMean {
		wantMean[c] *= scale
		wantVar[c] *= scale * scale
	}
	if err := SetLatentStats(testutil.Backend(t), v, imgs); err != nil {
		t.Fatal(err)
	}
	gotMean, gotVar := flat(t, v.Weight(bnMean)), flat(t, v.Weight(bnVar))
	for c := 0; c < k; c++ {
		if math.Abs(float64(gotMean[c])-wantMean[c]) > 1e-4*(1+math.Abs(wantMean[c])) ||
			math.Abs(float64(gotVar[c])-wantVar[c]) > 1e-4*wantVar[c] {
			t.Errorf("channel %d: written mean %g var %g, want %g %g", c, gotMean[c], gotVar[c], wantMean[c], wantVar[c])
		}
	}
	normMean, normVar := moments()
	for c := 0; c < k; c++ {
		wantV := wantVar[c] / (wantVar[c] + v.Config.BatchNormEps)
		if math.Abs(normMean[c]) > 1e-3 || math.Abs(normVar[c]-wantV) > 1e-3 {
			t.Errorf("channel %d after SetLatentStats: latent mean %g var %g, want 0 and %g", c, normMean[c], normVar[c], wantV)
		}
	}
}
