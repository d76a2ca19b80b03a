// Package selfcontained checks that Flora's model packages work for a Go
// program that builds its own GoMLX backend: the graph fixes they need
// (internal/gomlxfix: Slice gradients without the Pad op the pure-Go backend
// lacks, GEMM gradients) are installed by the packages themselves, not only
// by internal/backend. This test package must import neither
// internal/backend nor internal/testutil (TestNoBackendPackage checks).
package selfcontained

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/tensorrand"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
)

// TestLoRAGradientsOnOwnBackend trains one LoRA step's gradients of the tiny
// model on a pure-Go backend made here: every target gets a finite, non-zero
// gradient (before the fix: `op "Pad" not implemented in SimpleGo`).
func TestLoRAGradientsOnOwnBackend(t *testing.T) {
	backend, err := simplego.New("parallelism=-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := flux2.TinyConfig()
	m, err := flux2.NewRandomModel(backend, cfg, 3, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := lora.Spec{Preset: lora.PresetAll, Rank: 2}.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := lora.NewAdapter(targets, 5)
	for _, parts := range a.Layers { // non-zero B so that A gets gradients too
		for _, p := range parts {
			for i := range p.Up {
				p.Up[i] = 0.01
			}
		}
	}
	if err := lora.Attach(m, a, 1, true); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(dims ...int) *tensors.Tensor { return tensorrand.Normal(rng, dims...) }
	const h, w, l = 2, 3, 4
	batch, err := m.NewBatch(rnd(1, h*w, cfg.InChannels), rnd(1, l, cfg.ContextDim), tensors.FromFlatDataAndDimensions([]float32{0.5}, 1),
		tensors.FromFlatDataAndDimensions([]float32{3}, 1), flux2.TextIDs(1, l), flux2.ImageIDs(1, h, w, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, checkpointing := range []bool{false, true} {
		g, err := m.LossAndGradients(&flux2.TrainBatch{Batch: batch, Target: rnd(1, h*w, cfg.InChannels)}, dtypes.Float32, checkpointing)
		if err != nil {
			t.Fatalf("checkpointing %v: %v", checkpointing, err)
		}
		if len(g.Grads) != len(m.TrainableNames()) || len(g.Grads) == 0 {
			t.Fatalf("checkpointing %v: %d gradients for %d trainable variables", checkpointing, len(g.Grads), len(m.TrainableNames()))
		}
		for name, gt := range g.Grads {
			sum := 0.0
			for _, v := range tensors.MustCopyFlatData[float32](gt) {
				sum += float64(v) * float64(v)
			}
			if sum == 0 || sum != sum || sum > 1e30 {
				t.Errorf("checkpointing %v: gradient of %s has squared norm %g", checkpointing, name, sum)
			}
		}
	}
}

// TestNoBackendPackage keeps this test honest: it must not link the
// package that used to be the only installer of the fixes.
func TestNoBackendPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-test", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range []string{"/internal/backend", "/internal/testutil"} {
		if strings.Contains(string(out), "github.com/flora-ml/flora"+p+"\n") {
			t.Errorf("this test links %s: it no longer proves the model packages install their own fixes", p)
		}
	}
}
