package textenc

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TensorSource is a set of named tensors read one at a time (a safetensors
// checkpoint; model/weights implements it).
type TensorSource interface {
	Names() []string
	Dims(name string) ([]int, bool)
	ReadAs(name string, dtype dtypes.DType) (*tensors.Tensor, error)
}

// Encoder runs a text encoder up to the last hidden state FLUX.2 needs and
// returns the selected hidden states stacked per token.
type Encoder struct {
	Config Config
	// Layers are the hidden-state indices stacked (0 = embedding output,
	// k = output of decoder layer k).
	Layers []int
	// Name identifies the weights (for cache keys).
	Name string

	backend backends.Backend
	dtype   dtypes.DType
	embed   *tensors.Tensor
	layers  [][]*tensors.Tensor // per layer, in layerParamNames order
	// finalNorm is the final RMSNorm weight, loaded only when the last
	// layer's hidden state is selected: transformers returns that one after
	// the final norm.
	finalNorm *tensors.Tensor
	mu        sync.Mutex
	progs     map[string]*Exec
}

// prefixes under which checkpoints store the language model: Qwen3ForCausalLM
// and MistralForCausalLM ("model."), Mistral3ForConditionalGeneration old
// ("language_model.model.") and new ("model.language_model.") layouts.
var prefixes = []string{"model.", "language_model.model.", "model.language_model."}

// Load reads the weights of layers 0 … max(layers)−1 (and the embeddings)
// from src as dtype; later layers, the final norm, the LM head and any
// vision tower are never read.
func Load(backend backends.Backend, src TensorSource, name string, cfg Config, layers []int, dtype dtypes.DType) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("text encoder config: %w", err)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("no hidden-state layers selected")
	}
	last := 0
	for _, l := range layers {
		if l < 0 || l > cfg.Layers {
			return nil, fmt.Errorf("hidden-state layer %d is outside 0..%d", l, cfg.Layers)
		}
		last = max(last, l)
	}
	if dtype == dtypes.InvalidDType {
		dtype = dtypes.Float32
	}
	names := map[string]bool{}
	for _, n := range src.Names() {
		names[n] = true
	}
	prefix := ""
	for _, p := range prefixes {
		if names[p+"embed_tokens.weight"] {
			prefix = p
			break
		}
	}
	if prefix == "" {
		return nil, fmt.Errorf("%s: no language-model embeddings (model.embed_tokens.weight, language_model.model.embed_tokens.weight or model.language_model.embed_tokens.weight)", name)
	}
	var missing, misshaped []string
	check := func(n string, want []int) {
		got, ok := src.Dims(n)
		if !ok {
			missing = append(missing, n)
			return
		}
		if !equalDims(got, want) {
			misshaped = append(misshaped, fmt.Sprintf("%s: %v, want %v", n, got, want))
		}
	}
	check(prefix+"embed_tokens.weight", []int{cfg.Vocab, cfg.Hidden})
	if last == cfg.Layers {
		check(prefix+"norm.weight", []int{cfg.Hidden})
	}
	shapes := cfg.layerParamShapes()
	for i := 0; i < last; i++ {
		for _, p := range cfg.layerParamNames() {
			check(fmt.Sprintf("%slayers.%d.%s", prefix, i, p), shapes[p])
		}
	}
	if len(missing)+len(misshaped) > 0 {
		sort.Strings(missing)
		var b strings.Builder
		fmt.Fprintf(&b, "%s is not a loadable %s text encoder (%d missing, %d mis-shaped tensors)", name, cfg.Family, len(missing), len(misshaped))
		for i, m := range append(missing, misshaped...) {
			if i == 12 {
				b.WriteString("\n  ...")
				break
			}
			b.WriteString("\n  " + m)
		}
		return nil, fmt.Errorf("%s", b.String())
	}
	e := &Encoder{Config: cfg, Layers: append([]int(nil), layers...), Name: name, backend: backend, dtype: dtype, progs: map[string]*Exec{}}
	var err error
	if e.embed, err = src.ReadAs(prefix+"embed_tokens.weight", dtype); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i := 0; i < last; i++ {
		var ts []*tensors.Tensor
		for _, p := range cfg.layerParamNames() {
			t, err := src.ReadAs(fmt.Sprintf("%slayers.%d.%s", prefix, i, p), dtype)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			ts = append(ts, t)
		}
		e.layers = append(e.layers, ts)
	}
	if last == cfg.Layers {
		if e.finalNorm, err = src.ReadAs(prefix+"norm.weight", dtype); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return e, nil
}

func equalDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Identity names the encoder and the settings that change its output, for
// cache keys.
func (e *Encoder) Identity() string {
	ls := make([]string, len(e.Layers))
	for i, l := range e.Layers {
		ls[i] = strconv.Itoa(l)
	}
	return fmt.Sprintf("%s|%s|layers=%s|%s", e.Name, e.Config.Family, strings.Join(ls, ","), e.dtype)
}

// OutputDim is the width of the stacked embedding (len(Layers) × hidden).
func (e *Encoder) OutputDim() int { return len(e.Layers) * e.Config.Hidden }

// Bytes is the memory held by the encoder's weights.
func (e *Encoder) Bytes() int64 {
	if e.embed == nil {
		return 0
	}
	n := int64(e.embed.Shape().Memory())
	for _, l := range e.layers {
		for _, t := range l {
			n += int64(t.Shape().Memory())
		}
	}
	return n
}

// Release frees the weights (host and device) and returns the bytes freed;
// the encoder cannot be used afterwards. Training releases the text encoder
// once the captions are cached, so it never shares memory with the
// transformer.
func (e *Encoder) Release() int64 {
	n := e.Bytes()
	if e.embed != nil {
		e.embed.FinalizeAll()
		e.embed = nil
	}
	for _, l := range e.layers {
		for _, t := range l {
			t.FinalizeAll()
		}
	}
	e.layers = nil
	if e.finalNorm != nil {
		e.finalNorm.FinalizeAll()
		e.finalNorm = nil
	}
	for _, p := range e.progs {
		p.Finalize()
	}
	e.progs = map[string]*Exec{}
	return n
}

// Encode runs token ids [B][L] with attention mask [B][L] (1 = token,
// 0 = padding) and returns the stacked hidden states [B, L, len(Layers)·D]
// as float32. Position ids are 0 … L−1 over the padded sequence, as the
// reference pipelines pass none.
func (e *Encoder) Encode(ids, mask [][]int32) (*tensors.Tensor, error) {
	if e.embed == nil {
		return nil, fmt.Errorf("text encoder %s was released", e.Name)
	}
	if len(ids) == 0 || len(ids) != len(mask) {
		return nil, fmt.Errorf("text encoder: %d id rows and %d mask rows", len(ids), len(mask))
	}
	b, l := len(ids), len(ids[0])
	flatIDs := make([]int32, 0, b*l)
	for i := range ids {
		if len(ids[i]) != l || len(mask[i]) != l {
			return nil, fmt.Errorf("text encoder: row %d has %d ids and %d mask values, row 0 has %d", i, len(ids[i]), len(mask[i]), l)
		}
		for _, id := range ids[i] {
			if id < 0 || int(id) >= e.Config.Vocab {
				return nil, fmt.Errorf("token id %d is outside the vocabulary (%d)", id, e.Config.Vocab)
			}
		}
		flatIDs = append(flatIDs, ids[i]...)
	}
	cos, sin := e.ropeTables(b, l)
	allowed, anyAllowed := attentionMasks(mask)

	x, err := e.run("embed", func(in []*Node) []*Node {
		return []*Node{Gather(in[0], InsertAxes(in[1], -1))}
	}, e.embed, tensors.FromFlatDataAndDimensions(flatIDs, b, l))
	if err != nil {
		return nil, err
	}
	hidden := map[int]*tensors.Tensor{0: x}
	last := 0
	for _, k := range e.Layers {
		last = max(last, k)
	}
	names := e.Config.layerParamNames()
	for i := 0; i < last; i++ {
		args := []*tensors.Tensor{x, cos, sin, allowed, anyAllowed}
		args = append(args, e.layers[i]...)
		x, err = e.run("layer", func(in []*Node) []*Node {
			w := layerWeights{}
			for j, n := range names {
				w[n] = in[5+j]
			}
			return []*Node{e.Config.decoderLayer(w, in[0], in[1], in[2], in[3], in[4])}
		}, args...)
		if err != nil {
			return nil, fmt.Errorf("text encoder layer %d: %w", i, err)
		}
		hidden[i+1] = x
	}
	if e.finalNorm != nil {
		eps := e.Config.RMSEps
		normed, err := e.run("final-norm", func(in []*Node) []*Node { return []*Node{rmsNorm(in[0], in[1], eps)} }, x, e.finalNorm)
		if err != nil {
			return nil, err
		}
		hidden[e.Config.Layers] = normed
	}
	sel := make([]*tensors.Tensor, len(e.Layers))
	for i, k := range e.Layers {
		sel[i] = hidden[k]
	}
	out, err := e.run(fmt.Sprintf("stack%d", len(sel)), func(in []*Node) []*Node {
		for i := range in {
			in[i] = ConvertDType(in[i], dtypes.Float32)
		}
		return []*Node{Concatenate(in, -1)}
	}, sel...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// run compiles (once per kind) and runs a program over tensors.
func (e *Encoder) run(kind string, fn func([]*Node) []*Node, args ...*tensors.Tensor) (*tensors.Tensor, error) {
	e.mu.Lock()
	p, ok := e.progs[kind]
	if !ok {
		var err error
		if p, err = NewExec(e.backend, fn); err != nil {
			e.mu.Unlock()
			return nil, err
		}
		e.progs[kind] = p
	}
	e.mu.Unlock()
	as := make([]any, len(args))
	for i, a := range args {
		as[i] = a
	}
	out, err := p.Exec(as...)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ropeTables computes the rotate-half RoPE tables [B, L, hd] for positions
// 0 … L−1 in float32 arithmetic, as the reference does: inverse frequencies
// θ^(−2i/hd) and angles pos·inv_freq rounded to float32, duplicated over the
// two halves.
func (e *Encoder) ropeTables(b, l int) (*tensors.Tensor, *tensors.Tensor) {
	hd := e.Config.HeadDim
	inv := make([]float32, hd/2)
	for i := range inv {
		exp := float32(2*i) / float32(hd)
		inv[i] = 1 / float32(math.Pow(e.Config.RopeTheta, float64(exp)))
	}
	cos := make([]float32, b*l*hd)
	sin := make([]float32, b*l*hd)
	for p := 0; p < l; p++ {
		for i, f := range inv {
			a := float32(p) * f
			c, s := float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
			for bi := 0; bi < b; bi++ {
				base := (bi*l + p) * hd
				cos[base+i], cos[base+i+hd/2] = c, c
				sin[base+i], sin[base+i+hd/2] = s, s
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(cos, b, l, hd), tensors.FromFlatDataAndDimensions(sin, b, l, hd)
}

// attentionMasks builds allowed[b, 0, q, k] = (k ≤ q and mask[b][k] = 1)
// and anyAllowed[b, 0, q, 0] (0 when a query may attend to nothing: a
// left-padding position, whose attention output is then zero, as PyTorch's
// scaled_dot_product_attention returns for fully masked rows).
func attentionMasks(mask [][]int32) (*tensors.Tensor, *tensors.Tensor) {
	b, l := len(mask), len(mask[0])
	allowed := make([]float32, b*l*l)
	any := make([]float32, b*l)
	for bi := range mask {
		for q := 0; q < l; q++ {
			for k := 0; k <= q; k++ {
				if mask[bi][k] != 0 {
					allowed[(bi*l+q)*l+k] = 1
					any[bi*l+q] = 1
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(allowed, b, 1, l, l), tensors.FromFlatDataAndDimensions(any, b, 1, l, 1)
}
