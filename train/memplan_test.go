package train

import (
	"testing"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

func planFor(t *testing.T, variant string, scheme quant.Scheme, res int, ckpt bool) MemoryPlanInput {
	t.Helper()
	v, err := flux2.VariantByName(variant)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := lora.Spec{Preset: lora.PresetBlocks, Rank: 16}.Plan(v.Config)
	if err != nil {
		t.Fatal(err)
	}
	return MemoryPlanInput{Config: v.Config, Quant: quant.Options{Scheme: scheme}, ComputeBytes: 2, Targets: targets,
		EightBitAdam: true, Resolution: res, TextTokens: 512, Batch: 1, Checkpointing: ckpt}
}

func TestEstimateMemory(t *testing.T) {
	const gib = 1 << 30
	// dev's base weights: bf16 64.4 GB; NF4 of the block linears (31.4B
	// params → ~15.7 GB + 4-byte scale per 64) plus bf16 globals (~0.8B).
	bf16 := EstimateMemory(planFor(t, "dev", quant.None, 1024, true))
	if got := float64(bf16.BaseWeights) / 1e9; got < 64.4 || got > 64.5 {
		t.Errorf("dev bf16 base %.2f GB, want 64.45", got)
	}
	nf4 := EstimateMemory(planFor(t, "dev", quant.NF4, 1024, true))
	if nf4.BaseWeights > 19*gib || nf4.BaseWeights < 15*gib {
		t.Errorf("dev nf4 base %s", human(nf4.BaseWeights))
	}
	// Without fused (flash) attention the probabilities of one block at
	// 1024² (48 heads × 4608² tokens) take 5.7 GiB, so dev at 1024² needs
	// ~32 GiB even with NF4 and checkpointing; 512² fits 24 GiB.
	if nf4.Total < 28*gib || nf4.Total > 36*gib {
		t.Errorf("dev nf4 + checkpointing at 1024² estimated %s:\n%s", human(nf4.Total), nf4)
	}
	if small := EstimateMemory(planFor(t, "dev", quant.NF4, 512, true)); small.Total > 24*gib {
		t.Errorf("dev nf4 + checkpointing at 512² estimated %s, want < 24 GiB", human(small.Total))
	}
	noCkpt := EstimateMemory(planFor(t, "dev", quant.NF4, 1024, false))
	if noCkpt.Activations < 5*nf4.Activations {
		t.Errorf("checkpointing saves too little: %s vs %s", human(noCkpt.Activations), human(nf4.Activations))
	}
	t.Logf("dev 1024² r16 NF4+ckpt:\n%s", nf4)
	for _, v := range []string{"klein-base-4b", "klein-base-9b"} {
		t.Logf("%s 1024² r16 bf16+ckpt:\n%s", v, EstimateMemory(planFor(t, v, quant.None, 1024, true)))
	}
	if s := Suggest(planFor(t, "dev", quant.None, 1024, false), 24*gib); len(s) == 0 {
		t.Error("no suggestion for dev bf16 without checkpointing on 24 GiB")
	} else {
		t.Logf("suggestions: %q", s)
	}
}
