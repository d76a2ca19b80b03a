package quant

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/flux2/flux2test"
	"github.com/flora-ml/flora/model/weights"
)

// TestQuantizedCheckpointRoundTrip: Flora's quantized checkpoint reloads to
// a model with exactly the same output, for every scheme.
func TestQuantizedCheckpointRoundTrip(t *testing.T) {
	for _, opts := range []Options{{Scheme: Int8}, {Scheme: FP8}, {Scheme: NF4, DoubleQuant: true}} {
		m := tinyModel(t, &opts)
		b := tinyBatch(t, m)
		want := flux2test.Forward(t, m, b)
		path := filepath.Join(t.TempDir(), "q.safetensors")
		if err := SaveCheckpoint(m, path, opts.Scheme); err != nil {
			t.Fatal(err)
		}
		ck, err := weights.OpenCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		if !IsQuantizedCheckpoint(ck) {
			t.Fatal("not recognised as quantized")
		}
		back, err := Load(testutil.Backend(t), ck, path, "", dtypes.InvalidDType)
		ck.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := flux2test.Forward(t, back, b)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: output %d changed after save/load: %g vs %g", opts.Scheme, i, got[i], want[i])
			}
		}
		st, _ := os.Stat(path)
		t.Logf("%s checkpoint: %d bytes", opts.Scheme, st.Size())
	}
}

// TestComfyFP8ScaledImport writes the official tiny model as a ComfyUI "fp8
// scaled" file (F8_E4M3 block weights with per-tensor scale_weight) and
// checks the import against the float model and against the exact
// dequantized weights.
func TestComfyFP8ScaledImport(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	src, err := weights.OpenCheckpoint(filepath.Join(dir, "transformer.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	floatModel, err := flux2.LoadFrom(testutil.Backend(t), src, "float", flux2.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	dequant, err := flux2.NewModel(testutil.Backend(t), floatModel.Config)
	if err != nil {
		t.Fatal(err)
	}
	var ts []weights.TensorData
	for _, n := range src.Names() {
		v, err := src.TensorAs(n, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		vals := tensors.MustCopyFlatData[float32](v)
		dims := v.Shape().Dimensions
		name := "model.diffusion_model." + n
		if !(Options{Scheme: FP8}).Quantizes(n, dims) {
			ts = append(ts, weights.Float32Data(name, dims, vals))
			dequant.SetWeight(n, v)
			continue
		}
		var m float32
		for _, x := range vals {
			m = max(m, float32(math.Abs(float64(x))))
		}
		scale := m / FP8Max
		codes := make([]byte, len(vals))
		deq := make([]float32, len(vals))
		for i, x := range vals {
			codes[i] = EncodeE4M3(x / scale)
			deq[i] = DecodeE4M3(codes[i]) * scale
		}
		ts = append(ts, weights.TensorData{Name: name, DType: weights.F8E4M3, Shape: dims, Data: codes},
			weights.Float32Data(name[:len(name)-len(".weight")]+".scale_weight", []int{}, []float32{scale}))
		dequant.SetWeight(n, tensors.FromFlatDataAndDimensions(deq, dims...))
	}
	path := filepath.Join(t.TempDir(), "flux2-fp8-scaled.safetensors")
	if err := weights.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if !IsQuantizedCheckpoint(ck) {
		t.Fatal("fp8 file not recognised")
	}
	m, err := Load(testutil.Backend(t), ck, path, "", dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	b := tinyBatch(t, m)
	got, exact, float := flux2test.Forward(t, m, b), flux2test.Forward(t, dequant, b), flux2test.Forward(t, floatModel, b)
	if e := testutil.RelL2(got, exact); e > 1e-6 {
		t.Errorf("fp8 import differs from the dequantized weights by %.3g", e)
	}
	e := testutil.RelL2(got, float)
	t.Logf("fp8-scaled model output relative L2 error vs float: %.4f", e)
	if e > 0.05 || e == 0 {
		t.Errorf("fp8-scaled output error %.4f not in (0, 0.05]", e)
	}
}

// TestOfficialReferenceQuantizedOutput quantizes the official tiny model
// with each scheme while it loads and bounds the output error against the
// float model on the official inputs.
func TestOfficialReferenceQuantizedOutput(t *testing.T) {
	dir := testutil.ReferenceDir(t)
	load := func(opts *Options) *flux2.Model {
		lo := flux2.LoadOptions{DType: dtypes.Float32}
		if opts != nil {
			lo.Store = Store(*opts)
		}
		m, err := flux2.Load(testutil.Backend(t), filepath.Join(dir, "transformer.safetensors"), lo)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ref := load(nil)
	batch := flux2test.IOBatch(t, ref, filepath.Join(dir, "transformer_io.safetensors"))
	want := flux2test.Forward(t, ref, batch)
	for _, tc := range []struct {
		opts  Options
		bound float64
	}{{Options{Scheme: Int8}, 0.01}, {Options{Scheme: FP8}, 0.05}, {Options{Scheme: NF4}, 0.15}, {Options{Scheme: NF4, DoubleQuant: true}, 0.15}} {
		got := flux2test.Forward(t, load(&tc.opts), batch)
		e := testutil.RelL2(got, want)
		t.Logf("%s double=%v: official tiny model output relative L2 error %.4f", tc.opts.Scheme, tc.opts.DoubleQuant, e)
		if e > tc.bound || e == 0 {
			t.Errorf("%s: error %.4f not in (0, %.2f]", tc.opts.Scheme, e, tc.bound)
		}
	}
}

// headerOnly is a Source with metadata and no tensors.
type headerOnly map[string]string

func (h headerOnly) Names() []string                                      { return nil }
func (h headerOnly) Dims(string) ([]int, bool)                            { return nil, false }
func (h headerOnly) ReadAs(string, dtypes.DType) (*tensors.Tensor, error) { return nil, os.ErrNotExist }
func (h headerOnly) Tensor(string) (*tensors.Tensor, error)               { return nil, os.ErrNotExist }
func (h headerOnly) Metadata() map[string]string                          { return h }
func (h headerOnly) Info(string) (weights.TensorInfo, bool)               { return weights.TensorInfo{}, false }

// TestCheckpointVariant: a quantized checkpoint names the variant it was
// quantized from (klein base and distilled share shapes; the quantized
// file's name need not say which), a request overrides it and must match,
// and a file without the record resolves like a float checkpoint.
func TestCheckpointVariant(t *testing.T) {
	k4, _ := flux2.VariantByName("klein-4b")
	raw, err := json.Marshal(k4.Config)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		meta      map[string]string
		requested string
		want      string
		wantErr   bool
	}{
		{map[string]string{"format": metaFormat, metaConfig: string(raw), metaVariant: "klein-4b"}, "auto", "klein-4b", false},
		{map[string]string{"format": metaFormat, metaConfig: string(raw), metaVariant: "klein-4b"}, "klein-base-4b", "klein-base-4b", false},
		{map[string]string{"format": metaFormat, metaConfig: string(raw)}, "", "klein-base-4b", false},
		{map[string]string{"format": metaFormat, metaConfig: string(raw)}, "dev", "", true},
		{map[string]string{"format": metaFormat, metaConfig: "{"}, "", "", true},
	}
	for i, tc := range cases {
		v, ok, err := CheckpointVariant(headerOnly(tc.meta), tc.requested, "q.safetensors")
		if tc.wantErr {
			if err == nil {
				t.Errorf("case %d: no error, got %s", i, v.Name)
			}
			continue
		}
		if err != nil || !ok || v.Name != tc.want {
			t.Errorf("case %d: got %s ok=%v err=%v, want %s", i, v.Name, ok, err, tc.want)
		}
	}
	if _, ok, err := CheckpointVariant(headerOnly{}, "", "f.safetensors"); ok || err != nil {
		t.Errorf("a float checkpoint: ok=%v err=%v", ok, err)
	}
}
