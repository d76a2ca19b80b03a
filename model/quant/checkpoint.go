package quant

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/varname"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// Flora's quantized checkpoint: every base variable of a quantized model
// (plain weights and the codes/scales of quantized ones, under the variable
// names documented in graph.go) in one safetensors file, with the scheme and
// the architecture in the header, so the next run loads it directly instead
// of quantizing the float checkpoint again.
const (
	metaFormat = "flora-quantized"
	metaScheme = "flora.quant.scheme"
	metaConfig = "flora.flux2.config"
	// metaVariant names the variant the model was resolved to when it was
	// quantized: the klein base and distilled models share shapes, and the
	// quantized file's own name need not say which it is.
	metaVariant = "flora.flux2.variant"
)

// isBaseVariable reports whether a model variable is part of the base
// model (a weight or its quantized storage), not of an adapter.
func isBaseVariable(name string) bool { return !varname.IsAdapter(name) }

// SaveCheckpoint writes the model's base variables (never adapters) to path.
func SaveCheckpoint(m *flux2.Model, path string, scheme Scheme) error {
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		return err
	}
	var ts []weights.TensorData
	for _, n := range m.VariableNames() {
		if !isBaseVariable(n) {
			continue
		}
		v, err := m.Variable(n).Value()
		if err != nil {
			return err
		}
		td, err := weights.FromTensor(n, v)
		if err != nil {
			return fmt.Errorf("saving %s: %w", n, err)
		}
		ts = append(ts, td)
	}
	meta := map[string]string{"format": metaFormat, metaScheme: string(scheme), metaConfig: string(cfg)}
	if v := m.Variant.Name; v != "" && v != flux2.CustomVariantName {
		meta[metaVariant] = v
	}
	return weights.WriteFile(path, ts, meta)
}

// Source is a checkpoint with names, dims, typed reads and metadata (a
// model/weights Checkpoint).
type Source interface {
	flux2.TensorSource
	Metadata() map[string]string
	Info(name string) (weights.TensorInfo, bool)
}

// IsQuantizedCheckpoint reports whether a checkpoint stores quantized
// transformer weights Load understands: Flora's own format, or a ComfyUI
// "fp8 scaled" file (F8_E4M3 weights with per-tensor scale_weight).
func IsQuantizedCheckpoint(src Source) bool {
	if src.Metadata()["format"] == metaFormat {
		return true
	}
	for _, n := range src.Names() {
		if info, ok := src.Info(n); ok && info.DType == weights.F8E4M3 {
			return true
		}
	}
	return false
}

// CheckpointVariant returns the variant of a Flora quantized checkpoint from
// its header (flux2.ResolveVariant over the stored architecture; the variant
// recorded when it was quantized stands in for "auto"); ok is false for any
// other checkpoint. name is the checkpoint's path, for messages and the
// resolver's name hint.
func CheckpointVariant(src Source, requested, name string) (v flux2.Variant, ok bool, err error) {
	if src.Metadata()["format"] != metaFormat {
		return v, false, nil
	}
	var cfg flux2.Config
	if err := json.Unmarshal([]byte(src.Metadata()[metaConfig]), &cfg); err != nil {
		return v, false, fmt.Errorf("%s: architecture in the header: %w", name, err)
	}
	if requested == "" || requested == flux2.VariantAuto {
		requested = src.Metadata()[metaVariant]
	}
	v, err = flux2.ResolveVariant(cfg, requested, name)
	return v, true, err
}

// Load reads a quantized checkpoint — Flora's, or ComfyUI's fp8 e4m3 files
// with per-tensor `scale_weight` (or unscaled e4m3 casts) — into a model
// whose quantized layers dequantize in the graph. Float tensors in the file
// are kept as they are (converted to dtype when given).
//
// variant ("" or "auto" to resolve it) names the model as
// flux2.ResolveVariant does for float checkpoints.
func Load(backend backends.Backend, src Source, name, variant string, dtype dtypes.DType) (*flux2.Model, error) {
	if v, ok, err := CheckpointVariant(src, variant, name); err != nil {
		return nil, err
	} else if ok {
		return loadFlora(backend, src, name, v, dtype)
	}
	return loadComfyFP8(backend, src, name, variant, dtype)
}

func loadFlora(backend backends.Backend, src Source, name string, variant flux2.Variant, dtype dtypes.DType) (*flux2.Model, error) {
	cfg := variant.Config
	m, err := flux2.NewModel(backend, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.Variant = variant
	names := map[string]bool{}
	for _, n := range src.Names() {
		names[n] = true
	}
	var missing []string
	for _, official := range cfg.ParamNames() {
		if names[official] {
			if err := setFloatWeight(m, src, official, official, dtype, name); err != nil {
				return nil, err
			}
			continue
		}
		found := false
		for _, suf := range varname.QuantSuffixes() {
			if !names[official+suf] {
				continue
			}
			t, err := src.Tensor(official + suf)
			if err != nil {
				return nil, err
			}
			if err := m.SetVariable(official+suf, t, false); err != nil {
				return nil, err
			}
			found = true
		}
		if !found {
			missing = append(missing, official)
			continue
		}
		m.MarkStored(official)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%s: %d weights missing, e.g. %s", name, len(missing), missing[0])
	}
	m.Decoder = DecodeWeight
	return m, nil
}

// setFloatWeight reads the stored float tensor n as dtype (as stored when
// dtype is InvalidDType) into the base weight official; errors of the
// model name the file.
func setFloatWeight(m *flux2.Model, src Source, n, official string, dtype dtypes.DType, file string) error {
	var t *tensors.Tensor
	var err error
	if dtype == dtypes.InvalidDType {
		t, err = src.Tensor(n)
	} else {
		t, err = src.ReadAs(n, dtype)
	}
	if err != nil {
		return err
	}
	if err := m.SetWeight(official, t); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// loadComfyFP8 reads files whose transformer weights are F8_E4M3 codes with
// an optional per-tensor "<module>.scale_weight": the codes are kept (one
// byte per weight) and the scale becomes the per-channel scale of Flora's
// fp8 layout.
func loadComfyFP8(backend backends.Backend, src Source, name, variant string, dtype dtypes.DType) (*flux2.Model, error) {
	strip := func(n string) string {
		for _, p := range flux2.OfficialPrefixes {
			n = strings.TrimPrefix(n, p)
		}
		return n
	}
	stored := map[string]string{}
	for _, n := range src.Names() {
		stored[strip(n)] = n
	}
	layout, err := flux2.DetectLayout(src.Names())
	if err != nil || layout != flux2.LayoutOfficial {
		return nil, fmt.Errorf("%s: fp8 checkpoints are read in the official (ComfyUI) naming only", name)
	}
	cfg, err := flux2.InferConfig(src, layout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v, err := flux2.ResolveVariant(cfg, variant, name)
	if err != nil {
		return nil, err
	}
	m, err := flux2.NewModel(backend, cfg)
	if err != nil {
		return nil, err
	}
	m.Variant = v
	for _, official := range cfg.ParamNames() {
		n, ok := stored[official]
		if !ok {
			return nil, fmt.Errorf("%s: weight %s is missing", name, official)
		}
		info, _ := src.Info(n)
		if info.DType != weights.F8E4M3 {
			if err := setFloatWeight(m, src, n, official, dtype, name); err != nil {
				return nil, err
			}
			continue
		}
		if len(info.Shape) != 2 {
			return nil, fmt.Errorf("%s: fp8 tensor %s is not a matrix", name, n)
		}
		codes, err := src.Tensor(n)
		if err != nil {
			return nil, err
		}
		scale := 1.0
		module := strings.TrimSuffix(official, ".weight")
		if sn, ok := stored[module+".scale_weight"]; ok {
			st, err := src.ReadAs(sn, dtypes.Float32)
			if err != nil {
				return nil, err
			}
			v := tensors.MustCopyFlatData[float32](st)
			if len(v) != 1 {
				return nil, fmt.Errorf("%s: %s has %d values; per-tensor scales are supported", name, sn, len(v))
			}
			scale = float64(v[0])
		}
		rows := info.Shape[0]
		scales := make([]float32, rows)
		for i := range scales {
			scales[i] = float32(scale)
		}
		if err := m.SetVariable(official+varname.QuantFP8, codes, false); err != nil {
			return nil, err
		}
		if err := m.SetVariable(official+varname.QuantScale, tensors.FromFlatDataAndDimensions(scales, rows), false); err != nil {
			return nil, err
		}
		m.MarkStored(official)
	}
	m.Decoder = DecodeWeight
	return m, nil
}
