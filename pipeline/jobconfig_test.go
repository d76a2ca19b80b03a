package pipeline

import (
	"reflect"
	"testing"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/train"
)

// Every field of job.DatasetConfig (except CacheDir, used by the cache) is
// carried over, and the job defaults give a valid Config equal to ours.
func TestDatasetConfig(t *testing.T) {
	d := job.DatasetConfig{
		Folders:        []job.DatasetFolder{{Path: "a", Repeats: 3, DefaultCaption: "x", Control: "ca", Masks: "ma"}, {Path: "b", IsRegularization: true, Weight: 0.5}},
		Trigger:        "ohwx",
		DefaultCaption: "d",
		CaptionDropout: 0.1,
		ShuffleTags:    true,
		KeepTokens:     2,
		Resolutions:    []int{512, 1024},
		MinSide:        128,
		Crop:           "random",
		Flip:           true,
		Background:     "#102030",
		MaskFromAlpha:  true,
		MaskMin:        0.1,
		CacheDir:       "cache",
		Embeddings:     "captions.safetensors",
	}
	got := DatasetConfig(d)
	want := data.DefaultConfig()
	want.Folders = []data.Folder{{Path: "a", Repeats: 3, DefaultCaption: "x", Control: "ca", Masks: "ma"}, {Path: "b", Regularization: true, Weight: 0.5}}
	want.MaskFromAlpha, want.MaskMin = true, 0.1
	want.Trigger, want.DefaultCaption, want.CaptionDropout = "ohwx", "d", 0.1
	want.ShuffleTags, want.KeepTokens, want.Resolutions, want.MinSide = true, 2, []int{512, 1024}, 128
	want.Crop, want.Flip, want.Background = data.CropRandom, true, "#102030"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DatasetConfig:\n got %+v\nwant %+v", got, want)
	}
	// CacheDir, Embeddings, ReferenceDropout and Validation are read by the
	// pipeline, the trainer and evaluation, not data.
	if n := reflect.TypeOf(job.DatasetConfig{}).NumField(); n != 17 {
		t.Errorf("job.DatasetConfig has %d fields; update DatasetConfig (and this count) for the new ones", n)
	}
	if n := reflect.TypeOf(job.DatasetFolder{}).NumField(); n != 7 {
		t.Errorf("job.DatasetFolder has %d fields; update DatasetConfig (and this count) for the new ones", n)
	}
	def := job.Default().Dataset
	def.Folders = []job.DatasetFolder{{Path: "p"}}
	c := DatasetConfig(def)
	if err := c.Validate(); err != nil {
		t.Errorf("job defaults: %v", err)
	}
	base := data.DefaultConfig()
	base.Folders = []data.Folder{{Path: "p"}}
	if !reflect.DeepEqual(c, base) {
		t.Errorf("job defaults differ from data defaults:\n job %+v\ndata %+v", c, base)
	}
}

// TestQuantizeKeep: model.quantize_keep reaches the quantization options,
// and keeping more layers in bf16 raises the planned base-weight memory by
// exactly their size difference.
func TestQuantizeKeep(t *testing.T) {
	cfg := job.Default()
	cfg.Model.Quantize = "nf4"
	def, err := QuantOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Model.QuantizeKeep = append(append([]string(nil), quant.DefaultKeep...), "single_blocks.*.linear2")
	keep, err := QuantOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if def.Keep != nil || len(keep.Keep) != len(quant.DefaultKeep)+1 {
		t.Fatalf("keep patterns: default %v, configured %v", def.Keep, keep.Keep)
	}
	v, err := flux2.VariantByName("klein-base-4b")
	if err != nil {
		t.Fatal(err)
	}
	in := train.MemoryPlanInput{Config: v.Config, Quant: def, ComputeBytes: 2, Resolution: 512, TextTokens: 512, Batch: 1, Checkpointing: true}
	a := train.EstimateMemory(in).BaseWeights
	in.Quant = keep
	b := train.EstimateMemory(in).BaseWeights
	c := in.Config
	var extra int64
	for name, dims := range c.ParamShapes() {
		if def.Quantizes(name, dims) && !keep.Quantizes(name, dims) {
			n := int64(dims[0]) * int64(dims[1])
			blocks := n / quant.NF4Block
			extra += 2*n - (n/2 + blocks + 4*((blocks+quant.DoubleQuantBlock-1)/quant.DoubleQuantBlock) + 4)
		}
	}
	if extra == 0 || b-a != extra {
		t.Errorf("keeping linear2 unquantized added %d bytes, want %d", b-a, extra)
	}
}

// TestOptimizerConfig: each train.optimizer gets its train.Optimizer name,
// every prodigy_* and adafactor_* key reaches its field, and the job
// defaults are the train package's (prodigyopt's; transformers' Adafactor
// with a manual lr) and valid.
func TestOptimizerConfig(t *testing.T) {
	cfg := job.Default()
	def := OptimizerConfig(cfg)
	if def.Prodigy != train.DefaultProdigyConfig() || def.Adafactor != train.DefaultAdafactorConfig() {
		t.Errorf("job defaults: prodigy %+v, adafactor %+v; train's %+v, %+v", def.Prodigy, def.Adafactor,
			train.DefaultProdigyConfig(), train.DefaultAdafactorConfig())
	}
	for _, c := range []struct {
		optimizer string
		name      string
		eightBit  bool
	}{{"adamw", "adamw", false}, {"adamw8bit", "adamw", true}, {"prodigy", "prodigy", false}, {"adafactor", "adafactor", false}} {
		cfg.Train.Optimizer = c.optimizer
		o := OptimizerConfig(cfg)
		if o.Name != c.name || o.EightBit != c.eightBit {
			t.Errorf("%s: name %q eight-bit %v", c.optimizer, o.Name, o.EightBit)
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%s with the job defaults: %v", c.optimizer, err)
		}
	}
	tc := &cfg.Train
	tc.ProdigyD0, tc.ProdigyDCoef, tc.ProdigyBeta3, tc.ProdigyGrowthRate = 1e-5, 0.5, 0.99, 1.02
	tc.ProdigyUseBiasCorrection, tc.ProdigySafeguardWarmup, tc.ProdigyDecouple = true, true, false
	tc.AdafactorRelativeStep, tc.AdafactorScaleParameter, tc.AdafactorWarmupInit = true, true, true
	tc.AdafactorClipThreshold, tc.AdafactorDecayRate, tc.AdafactorBeta1, tc.AdafactorEps1, tc.AdafactorEps2 = 0.5, -0.7, 0.9, 1e-20, 1e-2
	o := OptimizerConfig(cfg)
	wantP := train.ProdigyConfig{D0: 1e-5, DCoef: 0.5, Beta3: 0.99, GrowthRate: 1.02, UseBiasCorrection: true, SafeguardWarmup: true, CoupledWeightDecay: true}
	wantA := train.AdafactorConfig{RelativeStep: true, ScaleParameter: true, WarmupInit: true, ClipThreshold: 0.5, DecayRate: -0.7, Beta1: 0.9, Eps1: 1e-20, Eps2: 1e-2}
	if o.Prodigy != wantP || o.Adafactor != wantA {
		t.Errorf("got prodigy %+v adafactor %+v", o.Prodigy, o.Adafactor)
	}
}

// TestCheckpointingAuto: gradient_checkpointing auto resolves by model size,
// on several devices as on one (the block-wise step runs on a mesh too).
func TestCheckpointingAuto(t *testing.T) {
	dev, err := flux2.VariantByName("dev")
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := flux2.VariantByName("tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v             flux2.Variant
		devices, mode string
		want          bool
	}{
		{dev, "1", "auto", true}, {dev, "2", "auto", true}, {dev, "all", "auto", true},
		{tiny, "2", "auto", false}, {tiny, "2", "on", true}, {dev, "4", "off", false},
	} {
		cfg := job.Default()
		cfg.Train.Devices, cfg.Train.GradientCheckpointing = tc.devices, tc.mode
		opts, err := TrainOptions(cfg, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Checkpointing != tc.want {
			t.Errorf("%s on %s devices, gradient_checkpointing %s: checkpointing %v, want %v", tc.v.Name, tc.devices, tc.mode, opts.Checkpointing, tc.want)
		}
	}
}
