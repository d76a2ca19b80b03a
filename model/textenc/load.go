package textenc

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/tensorload"
	"github.com/flora-ml/flora/model/quant"
)

// TensorSource is a set of named tensors read one at a time (a safetensors
// checkpoint: model/weights implements it); see tensorload.Source.
type TensorSource = tensorload.Source

// LoadOptions tune loading.
type LoadOptions struct {
	// DType is the dtype of the weights and of the computation: BFloat16
	// (the reference pipelines' dtype; the default) or Float32.
	DType dtypes.DType
	// IgnoreUnexpected skips tensors that are not part of the text encoder
	// instead of reporting them.
	IgnoreUnexpected bool
	// SourceID identifies the checkpoint in Identity (e.g. a repository id
	// and revision); optional, a sampled content fingerprint is always added.
	SourceID string
	// Quantize stores the decoder layers' linear weights as int8, fp8 or
	// NF4 (double-quantized block scales), dequantized in the graph right
	// before each matmul: the 30 Mistral Small 3.1 layers FLUX.2 dev reads
	// are 32 GiB in bf16, 17 GiB as int8 and 9.3 GiB as NF4 (Spec.WeightBytes),
	// so a 24 GB card can encode the captions. Embeddings and norms stay in
	// DType. "" or none: off.
	Quantize quant.Scheme
}

// quantizable reports whether a canonical weight is a decoder-layer linear
// weight (what LoadOptions.Quantize stores quantized).
func quantizable(canonical string, dims []int) bool {
	return len(dims) == 2 && strings.HasPrefix(canonical, "layers.") && strings.HasSuffix(canonical, "_proj.weight")
}

// LoadError lists every problem found in a checkpoint at once.
type LoadError struct {
	Source string
	tensorload.Problems
}

// Error lists the problems under the checkpoint's name.
func (e *LoadError) Error() string {
	return e.Report(e.Source, "text encoder", tensorload.Labels{
		Missing:    "missing tensors",
		Unexpected: "unexpected tensors (set IgnoreUnexpected to skip them)",
		Misshaped:  "tensors with the wrong shape (is the config right?)",
	})
}

// plan maps every needed canonical name to its stored name, checking shapes,
// and reports all problems together.
func plan(spec Spec, src TensorSource, ignoreUnexpected bool) (map[string]string, string, *LoadError) {
	lerr := &LoadError{}
	names := src.Names()
	prefix, err := DetectPrefix(names)
	if err != nil {
		lerr.Missing = append(lerr.Missing, err.Error())
		return nil, "", lerr
	}
	needed := spec.Config.NeededParamShapes(spec.Depth(), spec.needsFinalNorm())
	stored := map[string]string{}
	for _, n := range names {
		canonical, skip := spec.Config.classify(n, prefix, needed)
		switch {
		case canonical != "":
			stored[canonical] = n
		case !skip && !ignoreUnexpected:
			lerr.Unexpected = append(lerr.Unexpected, n)
		}
	}
	for _, canonical := range slices.Sorted(maps.Keys(needed)) {
		name, ok := stored[canonical]
		if !ok {
			lerr.Missing = append(lerr.Missing, prefix+canonical)
			continue
		}
		if d, _ := src.Dims(name); !slices.Equal(d, needed[canonical]) {
			lerr.Misshaped = append(lerr.Misshaped, fmt.Sprintf("%s: %v, want %v", name, d, needed[canonical]))
		}
	}
	sort.Strings(lerr.Unexpected)
	sort.Strings(lerr.Misshaped)
	if lerr.Any() {
		return nil, prefix, lerr
	}
	return stored, prefix, nil
}

// Load builds an Encoder for spec from a checkpoint, streaming one tensor at
// a time to the backend's device. Only the embeddings, the decoder layers up
// to spec.Depth() and (when a selected hidden state needs it) the final norm
// are read: never the LM head, the vision tower, the projector or deeper
// layers. All missing, unexpected and mis-shaped tensors are reported
// together in a *LoadError. sourceName names the checkpoint in errors.
func Load(backend backends.Backend, src TensorSource, sourceName string, spec Spec, opts LoadOptions) (*Encoder, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	dtype := opts.DType
	if dtype == dtypes.InvalidDType {
		dtype = dtypes.BFloat16
	}
	if dtype != dtypes.BFloat16 && dtype != dtypes.Float32 {
		return nil, fmt.Errorf("text encoder dtype %s is not supported (use bfloat16 or float32)", dtype)
	}
	stored, _, lerr := plan(spec, src, opts.IgnoreUnexpected)
	if lerr != nil {
		lerr.Source = sourceName
		return nil, lerr
	}
	e := &Encoder{spec: spec, dtype: dtype, backend: backend, weights: map[string]*tensors.Tensor{}, sourceID: opts.SourceID}
	fingerprint := sha256.New()
	needed := spec.Config.NeededParamShapes(spec.Depth(), spec.needsFinalNorm())
	quantize := opts.Quantize != "" && opts.Quantize != quant.None
	if quantize {
		if _, err := quant.ParseScheme(string(opts.Quantize)); err != nil {
			return nil, fmt.Errorf("text encoder: %w", err)
		}
		e.quant = opts.Quantize
	}
	for _, canonical := range slices.Sorted(maps.Keys(needed)) {
		name := stored[canonical]
		want := dtype
		q := quantize && quantizable(canonical, needed[canonical])
		if q {
			want = dtypes.Float32
		}
		t, err := src.ReadAs(name, want)
		if err != nil {
			e.Release()
			return nil, fmt.Errorf("%s: reading %s: %w", sourceName, name, err)
		}
		if t.DType() != want || !slices.Equal(t.Shape().Dimensions, needed[canonical]) {
			e.Release()
			return nil, fmt.Errorf("%s: %s was read as %s, want %s%v", sourceName, name, t.Shape(), want, needed[canonical])
		}
		addFingerprint(fingerprint, canonical, t)
		parts := []quant.Part{{Name: canonical, Value: t}}
		if q {
			dims := needed[canonical]
			w, err := tensors.CopyFlatData[float32](t)
			t.FinalizeAll()
			if err == nil {
				parts, err = quant.QuantizeParts(canonical, w, dims[0], dims[1],
					quant.Options{Scheme: opts.Quantize, DoubleQuant: opts.Quantize == quant.NF4})
			}
			if err != nil {
				e.Release()
				return nil, fmt.Errorf("%s: %w", sourceName, err)
			}
		}
		for _, p := range parts {
			if err := p.Value.MaterializeOnDevice(backend, true, 0); err != nil {
				e.Release()
				return nil, fmt.Errorf("%s: moving %s to the device: %w", sourceName, p.Name, err)
			}
			p.Value.FinalizeLocal() // keep the device copy only (a no-op for shared buffers)
			e.weights[p.Name] = p.Value
			e.bytes += uint64(p.Value.Memory())
		}
	}
	e.fingerprint = fmt.Sprintf("%x", fingerprint.Sum(nil)[:8])
	return e, nil
}

// fingerprintSample is how many leading bytes of each tensor enter the
// content fingerprint (hashing whole multi-GB checkpoints would take long).
const fingerprintSample = 64 << 10

func addFingerprint(h interface{ Write([]byte) (int, error) }, name string, t *tensors.Tensor) {
	_, _ = h.Write([]byte(name))
	for _, d := range t.Shape().Dimensions {
		_, _ = h.Write(binary.LittleEndian.AppendUint64(nil, uint64(d)))
	}
	_, _ = h.Write([]byte(t.DType().String()))
	_ = t.ConstBytes(func(data []byte) {
		_, _ = h.Write(data[:min(len(data), fingerprintSample)])
	})
}
