package textenc

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
)

// tinyQwen3 returns the tiny-qwen3 spec and a source over its fixture weights.
func tinyQwen3(tb testing.TB) (Spec, *mapSource) {
	tb.Helper()
	spec, err := SpecByName("tiny-qwen3")
	if err != nil {
		tb.Fatal(err)
	}
	return spec, fixtureSource(tb, "qwen3-tiny")
}

func TestLoadReportsEveryProblem(t *testing.T) {
	spec, src := tinyQwen3(t)
	delete(src.tensors, "model.layers.1.mlp.up_proj.weight")
	src.tensors["model.layers.0.self_attn.q_proj.bias"] = tensors.FromFlatDataAndDimensions(make([]float32, 64), 64)
	src.tensors["model.layers.2.self_attn.k_norm.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 8), 8)
	_, err := Load(testutil.Backend(t), src, "broken-checkpoint", spec, LoadOptions{DType: dtypes.Float32})
	var lerr *LoadError
	if !errors.As(err, &lerr) {
		t.Fatalf("Load error %v is not a *LoadError", err)
	}
	for _, want := range []string{"broken-checkpoint", "model.layers.1.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.bias",
		"model.layers.2.self_attn.k_norm.weight: [8], want [16]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if len(src.reads) != 0 {
		t.Errorf("read %d tensors from a checkpoint that cannot load", len(src.reads))
	}
	// IgnoreUnexpected drops only the unexpected complaint.
	_, err = Load(testutil.Backend(t), src, "broken-checkpoint", spec, LoadOptions{DType: dtypes.Float32, IgnoreUnexpected: true})
	if err == nil || strings.Contains(err.Error(), "q_proj.bias") || !strings.Contains(err.Error(), "up_proj") {
		t.Errorf("with IgnoreUnexpected: %v", err)
	}
}

func TestLoadWrongModel(t *testing.T) {
	spec, _ := tinyQwen3(t)
	mistral := fixtureSource(t, "mistral3-tiny")
	_, err := Load(testutil.Backend(t), mistral, "mistral3-tiny", spec, LoadOptions{DType: dtypes.Float32})
	if err == nil || !strings.Contains(err.Error(), "q_norm.weight") || !strings.Contains(err.Error(), "wrong shape") {
		t.Errorf("loading a Mistral checkpoint as Qwen3: %v", err)
	}
	notLM := &mapSource{tensors: map[string]*tensors.Tensor{"img_in.weight": tensors.FromFlatDataAndDimensions([]float32{1}, 1)}}
	_, err = Load(testutil.Backend(t), notLM, "transformer.safetensors", spec, LoadOptions{DType: dtypes.Float32})
	if err == nil || !strings.Contains(err.Error(), "no language-model token embeddings") {
		t.Errorf("loading a non-LM checkpoint: %v", err)
	}
	if _, err := Load(testutil.Backend(t), notLM, "x", spec, LoadOptions{DType: dtypes.Int32}); err == nil {
		t.Error("int32 compute dtype accepted")
	}
}

// TestIdentity checks cache keys change with the layer set, dtype, weights
// and source id, and only with them.
func TestIdentity(t *testing.T) {
	load := func(spec Spec, src *mapSource, opts LoadOptions) *Encoder {
		e, err := Load(testutil.Backend(t), src, "qwen3-tiny", spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Release() })
		return e
	}
	spec, src := tinyQwen3(t)
	f32 := LoadOptions{DType: dtypes.Float32}
	base := load(spec, src, f32).Identity()
	if again := load(spec, src, f32).Identity(); again != base {
		t.Fatalf("identity not stable:\n%s\n%s", base, again)
	}
	testutil.CheckContains(t, "identity", base, "model=tiny-qwen3", "layers=1,3,4", "pad=right", "dtype=float32")
	other := spec
	other.Layers = []int{1, 2, 4}
	bf16 := LoadOptions{}
	perturbed := map[string]*tensors.Tensor{}
	for n, v := range src.tensors {
		perturbed[n] = v
	}
	emb := tensors.MustCopyFlatData[float32](src.tensors["model.embed_tokens.weight"])
	emb[0] += 0.5
	perturbed["model.embed_tokens.weight"] = tensors.FromFlatDataAndDimensions(emb, src.tensors["model.embed_tokens.weight"].Shape().Dimensions...)
	variants := map[string]string{
		"layers":   load(other, src, f32).Identity(),
		"dtype":    load(spec, src, bf16).Identity(),
		"weights":  load(spec, &mapSource{tensors: perturbed}, f32).Identity(),
		"sourceID": load(spec, src, LoadOptions{DType: dtypes.Float32, SourceID: "Qwen/Qwen3-4B@abc"}).Identity(),
	}
	for what, id := range variants {
		if id == base {
			t.Errorf("identity unchanged when %s changes: %s", what, id)
		}
	}
	if !strings.Contains(variants["dtype"], "dtype=bfloat16") {
		t.Errorf("default dtype is not bfloat16: %s", variants["dtype"])
	}
}

func TestReleaseAndMemory(t *testing.T) {
	spec, src := tinyQwen3(t)
	e, err := Load(testutil.Backend(t), src, "qwen3-tiny", spec, LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, s := range spec.Config.NeededParamShapes(spec.Depth(), false) {
		n := uint64(4)
		for _, d := range s {
			n *= uint64(d)
		}
		want += n
	}
	if e.MemoryBytes() != want {
		t.Errorf("MemoryBytes = %d, want %d", e.MemoryBytes(), want)
	}
	ids, mask := [][]int32{{1, 2, 3, 0}}, [][]int32{{1, 1, 1, 0}}
	if _, err := e.Encode(ids, mask); err != nil {
		t.Fatal(err)
	}
	weights := make([]*tensors.Tensor, 0, len(e.weights))
	for _, w := range e.weights {
		weights = append(weights, w)
	}
	if freed := e.Release(); freed != want {
		t.Errorf("Release freed %d bytes, want %d", freed, want)
	}
	for _, w := range weights {
		if w.Ok() {
			t.Fatal("a weight tensor is still valid after Release")
		}
	}
	if e.Release() != 0 || e.MemoryBytes() != 0 {
		t.Error("second Release freed memory again")
	}
	if _, err := e.Encode(ids, mask); err == nil {
		t.Error("Encode after Release succeeded")
	}
	if err := e.Close(); err != nil {
		t.Error(err)
	}
}

func TestEncodeRejectsBadInput(t *testing.T) {
	spec, src := tinyQwen3(t)
	e, err := Load(testutil.Backend(t), src, "qwen3-tiny", spec, LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Release()
	for _, tc := range []struct {
		name      string
		ids, mask [][]int32
		want      string
	}{
		{"empty", nil, nil, "empty batch"},
		{"ragged", [][]int32{{1, 2}, {1}}, [][]int32{{1, 1}, {1}}, "same length"},
		{"mask rows", [][]int32{{1, 2}}, nil, "mask rows"},
		{"vocab", [][]int32{{1, 512}}, [][]int32{{1, 1}}, "outside the vocabulary"},
		{"negative", [][]int32{{-1, 2}}, [][]int32{{1, 1}}, "outside the vocabulary"},
		{"mask value", [][]int32{{1, 2}}, [][]int32{{1, 2}}, "masks hold 0"},
		{"all padding", [][]int32{{1, 2}}, [][]int32{{0, 0}}, "no tokens"},
		{"wrong side", [][]int32{{1, 2, 3}}, [][]int32{{0, 1, 1}}, "padded on the right"},
		{"hole", [][]int32{{1, 2, 3}}, [][]int32{{1, 0, 1}}, "contiguous"},
		{"too long", [][]int32{make([]int32, 1025)}, [][]int32{make([]int32, 1025)}, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Encode(tc.ids, tc.mask)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := checkMaskRow([]int32{1, 1, 0}, PadLeft); err == nil || !strings.Contains(err.Error(), "padded on the left") {
		t.Errorf("left-padded model accepted right padding: %v", err)
	}
}
