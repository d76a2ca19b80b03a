package train

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/data/feed"
	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
)

// withReferences gives every sample references of latent grids sizes
// (random values), the same shapes for all.
func withReferences(samples []Sample, c int, sizes [][2]int) []Sample {
	rng := rand.New(rand.NewPCG(8, 2))
	for i := range samples {
		for k, hw := range sizes {
			lat := make([]float32, c*hw[0]*hw[1])
			for j := range lat {
				lat[j] = float32(rng.NormFloat64())
			}
			samples[i].References = append(samples[i].References, feed.Reference{Latent: lat, C: c, H: hw[0], W: hw[1], Key: samples[i].Key + "#ref" + string(rune('0'+k))})
		}
	}
	return samples
}

// TestBatchWithReferences: a batch of samples with references carries each
// sample's clean reference tokens after its noised target tokens, with the
// reference position ids (t = 10 + 10k) after the target's; the target
// covers the image tokens only, and the loss the trainer computes is the
// MSE of the forward's target tokens (the references are not scored).
// Reference dropout 1 trains without them.
func TestBatchWithReferences(t *testing.T) {
	m, adapter, _ := tinyModelAndAdapter(t, lora.Spec{Preset: lora.PresetBlocks, Rank: 2})
	if err := lora.Attach(m, adapter, 1, true); err != nil {
		t.Fatal(err)
	}
	cfg := m.Config
	samples := testSamples(cfg, 2)
	samples[1] = samples[0] // one bucket: 2×3
	sizes := [][2]int{{2, 2}, {1, 3}}
	samples = withReferences(samples, cfg.InChannels, sizes)
	opts := testOptions(3)
	tr, err := NewTrainer(m, mustSource(t, samples), opts)
	if err != nil {
		t.Fatal(err)
	}
	tb, _, err := tr.nextBatch()
	if err != nil {
		t.Fatal(err)
	}
	n, r, c := 6, 4+3, cfg.InChannels
	if d := tb.X.Shape().Dimensions; !slices.Equal(d, []int{2, n + r, c}) {
		t.Fatalf("X %v, want [2, %d, %d]", d, n+r, c)
	}
	if d := tb.Target.Shape().Dimensions; !slices.Equal(d, []int{2, n, c}) {
		t.Fatalf("target %v, want [2, %d, %d]", d, n, c)
	}
	x := tensors.MustCopyFlatData[float32](tb.X)
	for i := range 2 {
		found := false
		for _, cand := range samples {
			// The batch order is the source's: find the sample whose
			// reference tokens sit in row i.
			refs, err := flux2.NewReferences(refLatents(cand))
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(x[(i*(n+r)+n)*c:(i+1)*(n+r)*c], refs.Tokens) {
				found = true
			}
		}
		if !found {
			t.Fatalf("row %d: the reference tokens are not any sample's packed references", i)
		}
	}
	// Position ids: the RoPE tables equal those of the target grid
	// followed by NewReferences' ids.
	refs, err := flux2.NewReferences(refLatents(samples[0]))
	if err != nil {
		t.Fatal(err)
	}
	ids := flux2.ImageIDs(2, 2, 3, 0)
	for i := range ids {
		ids[i] = append(ids[i], refs.IDs...)
	}
	want, err := m.NewBatch(tb.X, tb.Ctx, tb.T, tb.Guidance, flux2.TextIDs(2, samples[0].L), ids)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckRelL2Tensors(t, "RoPE cos", tb.RoPECos, want.RoPECos, 0)
	if refs.IDs[0][0] != 10 || refs.IDs[4][0] != 20 {
		t.Errorf("reference times %v, %v; want 10 and 20", refs.IDs[0][0], refs.IDs[4][0])
	}

	// The loss is the MSE of the forward's target tokens.
	g, err := m.LossAndGradients(tb, dtypes.Float32, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(tb.Batch, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	pred, target := tensors.MustCopyFlatData[float32](out), tensors.MustCopyFlatData[float32](tb.Target)
	var sq float64
	for i := range 2 {
		for j := range n * c {
			d := float64(pred[i*(n+r)*c+j]) - float64(target[i*n*c+j])
			sq += d * d
		}
	}
	if mse := sq / float64(2*n*c); testutil.RelL2([]float32{g.Loss}, []float32{float32(mse)}) > 1e-5 {
		t.Errorf("loss %.7g, MSE of the target tokens %.7g", g.Loss, mse)
	}

	opts.ReferenceDropout = 1
	tr2, err := NewTrainer(m, mustSource(t, samples), opts)
	if err != nil {
		t.Fatal(err)
	}
	tb2, _, err := tr2.nextBatch()
	if err != nil {
		t.Fatal(err)
	}
	if d := tb2.X.Shape().Dimensions; !slices.Equal(d, []int{2, n, c}) {
		t.Errorf("with reference dropout 1, X %v, want [2, %d, %d]", d, n, c)
	}

	mixed := slices.Clone(samples)
	mixed[1].References = nil
	if _, err := referencesOf(mixed); err == nil {
		t.Error("a batch mixing samples with and without references was accepted")
	}
}

func refLatents(s Sample) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(s.References))
	for k, r := range s.References {
		out[k] = tensors.FromFlatDataAndDimensions(r.Latent, r.C, r.H, r.W)
	}
	return out
}

func mustSource(t *testing.T, samples []Sample) *MemorySource {
	t.Helper()
	src, err := NewMemorySource(samples, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	return src
}
