package train

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
)

// testSamples is a fixed dataset of tiny latents and embeddings in two
// size buckets.
func testSamples(cfg flux2.Config, n int) []Sample {
	rng := rand.New(rand.NewPCG(42, 1))
	var out []Sample
	for i := 0; i < n; i++ {
		h, w := 2, 3
		if i%2 == 1 {
			h, w = 3, 2
		}
		lat := make([]float32, cfg.InChannels*h*w)
		for j := range lat {
			lat[j] = float32(rng.NormFloat64())
		}
		emb := make([]float32, 5*cfg.ContextDim)
		for j := range emb {
			emb[j] = float32(rng.NormFloat64())
		}
		out = append(out, Sample{Latent: lat, C: cfg.InChannels, H: h, W: w, Embedding: emb, L: 5, D: cfg.ContextDim})
	}
	return out
}

func testOptions(steps int) Options {
	return Options{
		Steps: steps, GradAccum: 1,
		Timesteps: TimestepSampler{Kind: "flux2_shift", SigmoidScale: 1},
		LR:        LRSchedule{Kind: "cosine", Base: 1e-2, Min: 1e-3, Warmup: 2, Total: steps},
		Optimizer: AdamWConfig{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 1e-4, MaxGradNorm: 1},
		Guidance:  1, DType: dtypes.Float32, Seed: 7, EMADecay: 0.9,
	}
}

// newTestTrainer builds a tiny random model with a rank-2 adapter.
func newTestTrainer(t *testing.T, opts Options, checkpointing bool) (*Trainer, *flux2.Model) {
	t.Helper()
	opts.Checkpointing = checkpointing
	return newAdapterTrainer(t, opts, lora.Spec{Preset: lora.PresetBlocks, Rank: 2}, 0)
}

// newAdapterTrainer builds a tiny random model with the adapter spec
// selects. The adapter's up matrices start at zero, as in training, or
// with upScale ≠ 0 random in [−upScale, upScale), so that the down
// matrices' gradients are not all zero either.
func newAdapterTrainer(t *testing.T, opts Options, spec lora.Spec, upScale float32) (*Trainer, *flux2.Model) {
	t.Helper()
	m, adapter, _ := tinyModelAndAdapter(t, spec)
	if upScale != 0 {
		randomUp(adapter, upScale)
	}
	if err := lora.Attach(m, adapter, 1, true); err != nil {
		t.Fatal(err)
	}
	return newMemoryTrainer(t, m, opts), m
}

// tinyModelAndAdapter returns the tiny random model (seed 3) and an adapter
// (seed 11) of spec, not yet attached, with its targets.
func tinyModelAndAdapter(t *testing.T, spec lora.Spec) (*flux2.Model, *lora.Adapter, []lora.Target) {
	t.Helper()
	m, err := flux2.NewRandomModel(testutil.Backend(t), flux2.TinyConfig(), 3, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := spec.Plan(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	return m, lora.NewAdapter(targets, 11), targets
}

// newMemoryTrainer trains m on six random samples of its config (batch 2).
func newMemoryTrainer(t *testing.T, m *flux2.Model, opts Options) *Trainer {
	t.Helper()
	src, err := NewMemorySource(testSamples(m.Config, 6), 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// randomUp fills the adapter's up matrices with values in [−scale, scale).
func randomUp(a *lora.Adapter, scale float32) {
	rng := rand.New(rand.NewPCG(13, 1))
	for _, module := range slices.Sorted(maps.Keys(a.Layers)) {
		for _, p := range a.Layers[module] {
			for i := range p.Up {
				p.Up[i] = scale * (2*rng.Float32() - 1)
			}
		}
	}
}

func adapterValues(t *testing.T, m *flux2.Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, n := range m.TrainableNames() {
		v, _ := m.Variable(n).Value()
		out[n] = tensors.MustCopyFlatData[float32](v)
	}
	return out
}

// resumeOptimizers are the optimizer setups the resume test covers, each
// with the options it trains with.
var resumeOptimizers = []struct {
	name string
	opts func(total int) Options
}{
	{"adamw", testOptions},
	{"adamw8bit", func(total int) Options {
		o := testOptions(total)
		o.Optimizer.EightBit = true
		return o
	}},
	{"prodigy", func(total int) Options {
		o := testOptions(total)
		o.Optimizer.Name, o.Optimizer.Prodigy = OptimizerProdigy, DefaultProdigyConfig()
		o.Optimizer.Prodigy.D0 = 1e-4
		o.LR.Base, o.LR.Min = 1, 0.1
		return o
	}},
	{"prodigy-coupled-bias-correction", func(total int) Options {
		o := testOptions(total)
		o.Optimizer.Name, o.Optimizer.Prodigy = OptimizerProdigy, DefaultProdigyConfig()
		o.Optimizer.Prodigy.D0, o.Optimizer.Prodigy.CoupledWeightDecay = 1e-4, true
		o.Optimizer.Prodigy.UseBiasCorrection, o.Optimizer.Prodigy.SafeguardWarmup = true, true
		o.LR.Base, o.LR.Min = 1, 0.1
		return o
	}},
	{"adafactor", func(total int) Options {
		o := testOptions(total)
		o.Optimizer.Name, o.Optimizer.Adafactor = OptimizerAdafactor, DefaultAdafactorConfig()
		return o
	}},
	{"adafactor-relative-beta1", func(total int) Options {
		o := testOptions(total)
		o.Optimizer.Name, o.Optimizer.Adafactor = OptimizerAdafactor, DefaultAdafactorConfig()
		a := &o.Optimizer.Adafactor
		a.RelativeStep, a.ScaleParameter, a.Beta1 = true, true, 0.9
		return o
	}},
}

// TestResumeEqualsStraightRun: for every optimizer, 10 steps, checkpoint,
// a fresh process (new model, new trainer) resumes and runs 10 more; the
// losses and the final adapter are bit-identical to 20 uninterrupted steps,
// and the loss fell.
func TestResumeEqualsStraightRun(t *testing.T) {
	const total = 20
	for _, c := range resumeOptimizers {
		t.Run(c.name, func(t *testing.T) {
			straight, sm := newTestTrainer(t, c.opts(total), false)
			want := runSteps(t, straight, -1)

			first, _ := newTestTrainer(t, c.opts(total), false)
			got := runSteps(t, first, 10)
			root := filepath.Join(t.TempDir(), "checkpoints")
			dir, err := first.SaveCheckpoint(root, "name: test\n")
			if err != nil {
				t.Fatal(err)
			}
			second, rm := newTestTrainer(t, c.opts(total), false)
			if err := second.LoadCheckpoint(dir); err != nil {
				t.Fatal(err)
			}
			if second.StepsDone() != 10 {
				t.Fatalf("resumed at step %d", second.StepsDone())
			}
			got = append(got, runSteps(t, second, -1)...)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("step %d loss %.9g, straight run %.9g", i+1, got[i], want[i])
				}
			}
			wa, ga := adapterValues(t, sm), adapterValues(t, rm)
			for n, w := range wa {
				for i := range w {
					if ga[n][i] != w[i] {
						t.Fatalf("%s[%d] = %g after resume, %g straight", n, i, ga[n][i], w[i])
					}
				}
			}
			if a, b := straight.opt.State(), second.opt.State(); a.Step != b.Step || !maps.Equal(a.Scalars, b.Scalars) {
				t.Errorf("optimizer step/scalars after resume %d %v, straight %d %v", b.Step, b.Scalars, a.Step, a.Scalars)
			}
			// The EMA resumes exactly, and WithEMA swaps it in and back.
			var we, ge map[string][]float32
			if err := straight.WithEMA(func() error { we = adapterValues(t, sm); return nil }); err != nil {
				t.Fatal(err)
			}
			if err := second.WithEMA(func() error { ge = adapterValues(t, rm); return nil }); err != nil {
				t.Fatal(err)
			}
			for n, w := range we {
				if !slices.Equal(ge[n], w) {
					t.Errorf("EMA of %s differs after resume", n)
				}
				if slices.Equal(w, wa[n]) {
					t.Errorf("EMA of %s equals the trained weights: WithEMA did not swap them in", n)
				}
			}
			if after := adapterValues(t, sm); !reflect.DeepEqual(after, wa) {
				t.Error("WithEMA did not put the trained weights back")
			}
			// The loss fell on this fixed dataset.
			t.Logf("%s: mean loss steps 1-5 %.4f, 16-20 %.4f", c.name, meanOf(want[:5]), meanOf(want[15:]))
			if meanOf(want[15:]) >= meanOf(want[:5]) {
				t.Errorf("loss did not fall: first steps %.4f, last %.4f", meanOf(want[:5]), meanOf(want[15:]))
			}
		})
	}
}

// TestCheckpointingGradientsMatch: block-wise execution with recomputation
// gives the same gradients and training trajectory as one whole program,
// for every adapter preset (the preset decides where the backward pass
// stops: "all" trains the embedding and the final layer, so gradients must
// reach the modulations; an adapter on the single blocks alone stops above
// the join) and every mode that runs block-wise: checkpointing, activation
// offload, block swap of some and of all blocks.
func TestCheckpointingGradientsMatch(t *testing.T) {
	specs := map[string]lora.Spec{"single blocks only": {Preset: lora.PresetBlocks, Rank: 2, Include: []string{"single_blocks.*"}}}
	for _, p := range lora.Presets {
		specs[p] = lora.Spec{Preset: p, Rank: 2}
	}
	blocks := flux2.TinyConfig().Depth + flux2.TinyConfig().DepthSingle
	modes := []struct {
		name          string
		checkpointing bool
		memory        flux2.MemoryOptions
	}{
		{"checkpointing", true, flux2.MemoryOptions{}},
		{"offload", false, flux2.MemoryOptions{OffloadActivations: true}},
		{"swap", false, flux2.MemoryOptions{BlocksOnHost: 1}},
		{"swap all+offload+checkpointing", true, flux2.MemoryOptions{BlocksOnHost: blocks, OffloadActivations: true}},
	}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		t.Run(name, func(t *testing.T) {
			// One whole-graph reference per preset: its gradients on the
			// first batch, then each block-wise mode on the same batch.
			whole, wm := newAdapterTrainer(t, testOptions(3), specs[name], 0.1)
			tb, _, err := whole.nextBatch()
			if err != nil {
				t.Fatal(err)
			}
			want, err := wm.LossAndGradients(tb, whole.opts.DType, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range modes {
				opts := testOptions(3)
				opts.Checkpointing, opts.Memory = mode.checkpointing, mode.memory
				blockwise, bm := newAdapterTrainer(t, opts, specs[name], 0.1)
				got, err := bm.LossAndGradients(tb, opts.DType, opts.Checkpointing)
				if err != nil {
					t.Fatal(err)
				}
				checkGradients(t, mode.name, want, got, 1e-5, 1e-4)
				if name == lora.PresetBlocks && mode.checkpointing && mode.memory == (flux2.MemoryOptions{}) {
					// The training trajectory, as the whole-graph run's:
					// one preset and mode (each step compiles an optimizer).
					if _, _, err := blockwise.nextBatch(); err != nil {
						t.Fatal(err)
					}
					stepsMatch(t, whole, blockwise, 3, 1e-5, 1e-4)
				}
			}
		})
	}
}

// checkGradients checks that got agrees with want within relative
// tolerances: the loss, and each gradient in relative L2 norm (a zero
// reference gradient fails: nothing would be compared). what prefixes the
// messages.
func checkGradients(t *testing.T, what string, want, got *flux2.Gradients, lossTol, gradTol float64) {
	t.Helper()
	if math.Abs(float64(want.Loss-got.Loss)) > lossTol*float64(want.Loss) || len(want.Grads) != len(got.Grads) {
		t.Fatalf("%s: loss %.9g (%d gradients), reference %.9g (%d)", what, got.Loss, len(got.Grads), want.Loss, len(want.Grads))
	}
	for n, g := range want.Grads {
		if got.Grads[n] == nil {
			t.Fatalf("%s: no gradient for %s", what, n)
		}
		w, gv := tensors.MustCopyFlatData[float32](g), tensors.MustCopyFlatData[float32](got.Grads[n])
		var diff, norm float64
		for i := range w {
			diff += math.Pow(float64(gv[i]-w[i]), 2)
			norm += math.Pow(float64(w[i]), 2)
		}
		if norm == 0 {
			t.Fatalf("%s: gradient %s is zero: nothing to compare", what, n)
		}
		if math.Sqrt(diff) > gradTol*math.Sqrt(norm) {
			t.Errorf("%s: gradient %s: relative L2 error %.3g", what, n, math.Sqrt(diff/norm))
		}
	}
}

// stepsMatch runs n steps of a and b in turn and checks that their losses
// and gradient norms agree within relative tolerances (0: bit-identical).
func stepsMatch(t *testing.T, a, b *Trainer, n int, lossTol, normTol float64) {
	t.Helper()
	for i := 0; i < n; i++ {
		ra, err := a.Step()
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ra.Loss-rb.Loss) > lossTol*ra.Loss || math.Abs(ra.GradNorm-rb.GradNorm) > normTol*ra.GradNorm {
			t.Errorf("step %d: loss %.9g norm %.9g, other %.9g %.9g", i+1, ra.Loss, ra.GradNorm, rb.Loss, rb.GradNorm)
		}
	}
}

// TestHostMemoryOptionsMatch: training with the saved activations
// offloaded and blocks streamed from host memory gives the same losses and
// adapter, step for step, as block-wise training with everything on the
// device; the trainer hands the options to the model.
func TestHostMemoryOptionsMatch(t *testing.T) {
	a, am := newTestTrainer(t, testOptions(3), true)
	opts := testOptions(3)
	opts.Memory = flux2.MemoryOptions{OffloadActivations: true, BlocksOnHost: 2}
	b, bm := newTestTrainer(t, opts, false)
	if bm.Memory != opts.Memory {
		t.Fatalf("model memory options %+v, want %+v", bm.Memory, opts.Memory)
	}
	stepsMatch(t, a, b, 3, 0, 0)
	wa, wb := adapterValues(t, am), adapterValues(t, bm)
	for n := range wa {
		if !slices.Equal(wa[n], wb[n]) {
			t.Errorf("adapter %s differs after 3 steps", n)
		}
	}
	opts.Memory.BlocksOnHost = 99
	m, err := flux2.NewRandomModel(testutil.Backend(t), flux2.TinyConfig(), 3, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTrainer(m, nil, opts); err == nil || !strings.Contains(err.Error(), "blocks on host 99") {
		t.Errorf("NewTrainer with 99 blocks on host: %v", err)
	}
}

// TestNonFiniteLossStops: a NaN in the data stops the step with
// ErrNonFinite and leaves the adapter as it was.
func TestNonFiniteLossStops(t *testing.T) {
	tr, m := newTestTrainer(t, testOptions(5), false)
	before := adapterValues(t, m)
	src := tr.src.(*MemorySource)
	for i := range src.samples {
		src.samples[i].Latent[0] = float32(math.NaN())
	}
	_, err := tr.Step()
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	after := adapterValues(t, m)
	for n := range before {
		for i := range before[n] {
			if before[n][i] != after[n][i] {
				t.Fatalf("adapter changed after a NaN step")
			}
		}
	}
}

func TestCheckpointListAndPrune(t *testing.T) {
	root := t.TempDir()
	for _, s := range []int{5, 20, 10} {
		os.MkdirAll(filepath.Join(root, CheckpointName(s)), 0o755)
		os.WriteFile(filepath.Join(root, CheckpointName(s), "state.json"), []byte("{}"), 0o644)
	}
	os.MkdirAll(filepath.Join(root, "."+CheckpointName(30)+".tmp-1"), 0o755) // unfinished
	os.MkdirAll(filepath.Join(root, CheckpointName(40)), 0o755)              // no state.json
	got, err := ListCheckpoints(root)
	if err != nil || len(got) != 3 || filepath.Base(got[2]) != "step-000020" {
		t.Fatalf("ListCheckpoints = %v, %v", got, err)
	}
	if err := PruneCheckpoints(root, 2); err != nil {
		t.Fatal(err)
	}
	got, _ = ListCheckpoints(root)
	if len(got) != 2 || filepath.Base(got[0]) != "step-000010" {
		t.Errorf("after prune: %v", got)
	}
}

// runSteps runs n steps of tr, or all it has left when n < 0, and returns
// their losses.
func runSteps(t *testing.T, tr *Trainer, n int) []float64 {
	t.Helper()
	var losses []float64
	for i := 0; (n < 0 || i < n) && !tr.Done(); i++ {
		r, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, r.Loss)
	}
	return losses
}

func TestMemorySourceDeterministic(t *testing.T) {
	samples := testSamples(flux2.TinyConfig(), 7)
	a, _ := NewMemorySource(samples, 2, 9)
	b, _ := NewMemorySource(samples, 2, 9)
	var st []byte
	for i := 0; i < 13; i++ {
		x, _ := a.Next()
		if i == 6 {
			st, _ = a.State()
		}
		y, _ := b.Next()
		if len(x) != len(y) || &x[0].Latent[0] != &y[0].Latent[0] {
			t.Fatalf("batch %d differs", i)
		}
		for _, s := range x {
			if bucketKey(s) != bucketKey(x[0]) {
				t.Fatalf("batch %d mixes buckets", i)
			}
		}
	}
	c, _ := NewMemorySource(samples, 2, 9)
	if err := c.Restore(st); err != nil {
		t.Fatal(err)
	}
	d, _ := NewMemorySource(samples, 2, 9)
	for i := 0; i < 7; i++ {
		d.Next()
	}
	for i := 0; i < 6; i++ {
		x, _ := c.Next()
		y, _ := d.Next()
		if &x[0].Latent[0] != &y[0].Latent[0] {
			t.Fatalf("restored batch %d differs", i)
		}
	}
}

// TestValidationLossFallsWithTraining: the fixed-noise validation loss of
// the training samples drops after training and is reproducible.
func TestValidationLossFallsWithTraining(t *testing.T) {
	tr, m := newTestTrainer(t, testOptions(30), false)
	samples := tr.src.(*MemorySource).samples
	_, before, err := ValidationLoss(m, samples, DefaultValidationTimes, 1, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	_, again, _ := ValidationLoss(m, samples, DefaultValidationTimes, 1, 1, dtypes.Float32)
	if again != before {
		t.Fatalf("validation loss not reproducible: %g vs %g", before, again)
	}
	runSteps(t, tr, -1)
	_, after, err := ValidationLoss(m, samples, DefaultValidationTimes, 1, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation loss %.4f → %.4f", before, after)
	if after >= before {
		t.Errorf("validation loss did not fall: %.4f → %.4f", before, after)
	}
}

// TestLoRAOnQuantizedBase trains a LoRA on an NF4-quantized base: the base
// stays frozen and quantized, the loss falls.
func TestLoRAOnQuantizedBase(t *testing.T) {
	cfg := flux2.TinyConfig()
	m, err := flux2.NewModel(testutil.Backend(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := quant.Store(quant.Options{Scheme: quant.NF4, DoubleQuant: true})
	for _, name := range cfg.ParamNames() {
		dims := cfg.ParamShapes()[name]
		if err := store(m, name, tensors.FromFlatDataAndDimensions(flux2.RandomWeight(name, dims, 3), dims...)); err != nil {
			t.Fatal(err)
		}
	}
	targets, err := lora.Spec{Preset: lora.PresetBlocks, Rank: 4}.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := lora.Attach(m, lora.NewAdapter(targets, 11), 1, true); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.TrainableNames() {
		if !lora.IsAdapterVariable(n) {
			t.Fatalf("base variable %s is trainable", n)
		}
	}
	tr := newMemoryTrainer(t, m, testOptions(30))
	losses := runSteps(t, tr, -1)
	if meanOf(losses[25:]) >= meanOf(losses[:5]) {
		t.Errorf("loss did not fall on the NF4 base: %.4f → %.4f", meanOf(losses[:5]), meanOf(losses[25:]))
	}
	if v := m.Variable("double_blocks.0.img_attn.qkv.weight.nf4"); v == nil || v.DType() != dtypes.Uint8 {
		t.Error("the base is not stored as NF4")
	}
}

// TestStepTrainsEverySlot: an adapter with several parts on one layer (the
// unfused q/k/v parts of a diffusers LoRA used as adapter.init_from, a lone
// slice) is attached as one slot per part; one training step changes every
// slot's down and up, and Extract gives back every part with its rows
// (whole-graph and block-wise gradients).
func TestStepTrainsEverySlot(t *testing.T) {
	for _, checkpointing := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpointing=%v", checkpointing), func(t *testing.T) { stepTrainsEverySlot(t, checkpointing) })
	}
}

func stepTrainsEverySlot(t *testing.T, checkpointing bool) {
	m, a, targets := tinyModelAndAdapter(t, lora.Spec{Preset: lora.PresetBlocks, Rank: 2})
	rng := rand.New(rand.NewPCG(4, 4))
	for _, parts := range a.Layers {
		for _, p := range parts {
			for i := range p.Up { // B ≠ 0, so A gets gradients too
				p.Up[i] = float32(rng.NormFloat64() * 0.05)
			}
		}
	}
	split := func(module string, offsets ...int) {
		p := a.Layers[module][0]
		rows := p.Rows / 3
		var parts []*lora.Part
		for i, off := range offsets {
			down := append([]float32(nil), p.Down...)
			down[i] += 0.01 // different A per part: kept as parallel parts
			parts = append(parts, &lora.Part{Rank: p.Rank, Alpha: p.Alpha, In: p.In, Rows: rows, RowOffset: off,
				Down: down, Up: append([]float32(nil), p.Up[off*p.Rank:(off+rows)*p.Rank]...)})
		}
		a.Layers[module] = parts
	}
	split("double_blocks.0.img_attn.qkv", 0, 96, 192)
	split("double_blocks.1.txt_attn.qkv", 96)
	if err := lora.Attach(m, a, 1, true); err != nil {
		t.Fatal(err)
	}
	before := adapterValues(t, m)
	opts := testOptions(2)
	opts.Checkpointing = checkpointing
	tr := newMemoryTrainer(t, m, opts)
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	after := adapterValues(t, m)
	if len(after) != 2*(len(targets)+2) {
		t.Errorf("%d trainable variables, want %d (down and up of every part)", len(after), 2*(len(targets)+2))
	}
	for n, v := range after {
		changed := 0
		for i := range v {
			if v[i] != before[n][i] {
				changed++
			}
		}
		if changed == 0 {
			t.Errorf("%s did not change in a training step", n)
		}
	}
	got, err := lora.Extract(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.NumParams() != a.NumParams() {
		t.Errorf("extracted %d parameters, attached %d", got.NumParams(), a.NumParams())
	}
	for module, offsets := range map[string][]int{"double_blocks.0.img_attn.qkv": {0, 96, 192}, "double_blocks.1.txt_attn.qkv": {96}} {
		parts := got.Layers[module]
		if len(parts) != len(offsets) {
			t.Fatalf("%s: extracted %d parts, want %d", module, len(parts), len(offsets))
		}
		for i, p := range parts {
			n := fmt.Sprintf("%s.lora.%d.up", module, i)
			if p.RowOffset != offsets[i] || p.Rows != 96 || !slices.Equal(p.Up, after[n]) {
				t.Errorf("%s part %d: rows [%d,+%d), want [%d,+96) with the trained values of %s", module, i, p.RowOffset, p.Rows, offsets[i], n)
			}
		}
	}
}

// TestEMAOfConstant: with the weights held at c, k updates of an EMA that
// started at e0 give c + d^k·(e0 − c) (so the EMA of a constant is the
// constant), and WithEMA exposes exactly the averaged values.
func TestEMAOfConstant(t *testing.T) {
	opts := testOptions(5)
	opts.EMADecay = 0.8
	tr, m := newTestTrainer(t, opts, false)
	params := make([]*tensors.Tensor, len(tr.names))
	for i, n := range tr.names {
		v, err := m.Variable(n).Value()
		if err != nil {
			t.Fatal(err)
		}
		vals := tensors.MustCopyFlatData[float32](v)
		for j := range vals {
			vals[j] = float32(j%7) - 3 // c
		}
		params[i] = tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...)
	}
	start := make([][]float32, len(tr.ema))
	for i, e := range tr.ema {
		start[i] = tensors.MustCopyFlatData[float32](e)
	}
	const k = 6
	for range k {
		if err := tr.updateEMA(params); err != nil {
			t.Fatal(err)
		}
	}
	dk := math.Pow(opts.EMADecay, k)
	for i, n := range tr.names {
		c := tensors.MustCopyFlatData[float32](params[i])
		want := make([]float32, len(c))
		for j := range c {
			want[j] = float32(float64(c[j]) + dk*float64(start[i][j]-c[j]))
		}
		got := tensors.MustCopyFlatData[float32](tr.ema[i])
		testutil.CheckRelL2(t, "EMA of "+n, got, want, 1e-6)
	}
	// Many more updates: the EMA of the constant is the constant.
	for range 200 {
		if err := tr.updateEMA(params); err != nil {
			t.Fatal(err)
		}
	}
	err := tr.WithEMA(func() error {
		for i, n := range tr.names {
			v, err := m.Variable(n).Value()
			if err != nil {
				return err
			}
			testutil.CheckRelL2(t, "EMA of constant "+n, tensors.MustCopyFlatData[float32](v), tensors.MustCopyFlatData[float32](params[i]), 1e-6)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointOfOtherOptimizerRefused: a checkpoint of one optimizer
// (or of Adafactor without a first moment) does not load into a trainer
// of another, and says so.
func TestCheckpointOfOtherOptimizerRefused(t *testing.T) {
	byName := map[string]func(int) Options{}
	for _, c := range resumeOptimizers {
		byName[c.name] = c.opts
	}
	for _, c := range []struct{ saved, loaded, want string }{
		{"prodigy", "adamw", "optimizer prodigy, the job asks for adamw"},
		{"adamw", "adafactor", "optimizer adamw, the job asks for adafactor"},
		{"adafactor", "adafactor-relative-beta1", "optimizer state has 80 tensors, the job's optimizer 120"},
	} {
		tr, _ := newTestTrainer(t, byName[c.saved](4), false)
		runSteps(t, tr, 1)
		dir, err := tr.SaveCheckpoint(filepath.Join(t.TempDir(), "ck"), "")
		if err != nil {
			t.Fatal(err)
		}
		other, _ := newTestTrainer(t, byName[c.loaded](4), false)
		err = other.LoadCheckpoint(dir)
		if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s checkpoint into %s: %v, want ErrIncompatible with %q", c.saved, c.loaded, err, c.want)
		}
	}
}
