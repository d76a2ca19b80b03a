package textenc

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/quant"
)

// Encoder is a loaded text encoder: the weights it needs, on the backend's
// device, and its compiled programs. It runs layer by layer: one program for
// the embedding lookup, one decoder-layer program shared by all layers
// (weights are program arguments), and one that stacks the selected hidden
// states. Release it as soon as the prompts are encoded so training never
// holds it. An Encoder is not safe for concurrent use.
type Encoder struct {
	spec        Spec
	dtype       dtypes.DType
	backend     backends.Backend
	weights     map[string]*tensors.Tensor // canonical name → tensor
	bytes       uint64
	sourceID    string
	fingerprint string
	quant       quant.Scheme // "" when the weights are not quantized

	embedExec, layerExec, stackExec *Exec
	released                        bool
}

// Spec returns the encoder's spec (model, layers, padding).
func (e *Encoder) Spec() Spec { return e.spec }

// DType returns the weight and compute dtype.
func (e *Encoder) DType() dtypes.DType { return e.dtype }

// MemoryBytes is the size of the weights the encoder holds (0 once released).
func (e *Encoder) MemoryBytes() uint64 { return e.bytes }

// Identity is a string identifying what Encode computes, for cache keys:
// format version, model name, an architecture digest, the stacked layers,
// the padding convention, the dtype, a sampled content fingerprint of the
// weights and the caller's SourceID (when given).
func (e *Encoder) Identity() string {
	arch := sha256.Sum256([]byte(fmt.Sprintf("%+v", e.spec.Config)))
	layers := make([]string, len(e.spec.Layers))
	for i, k := range e.spec.Layers {
		layers[i] = strconv.Itoa(k)
	}
	id := fmt.Sprintf("textenc/v1 model=%s arch=%x layers=%s pad=%s dtype=%s weights=%s",
		e.spec.Name, arch[:6], strings.Join(layers, ","), e.spec.PadSide, strings.ToLower(e.dtype.String()), e.fingerprint)
	if e.quant != "" {
		id += " quant=" + string(e.quant)
	}
	if e.sourceID != "" {
		id += " src=" + strconv.Quote(e.sourceID)
	}
	return id
}

// Release frees the weights (device and host copies) and the compiled
// programs, and returns how many bytes of weights were freed. The encoder is
// unusable afterwards; a second Release returns 0.
func (e *Encoder) Release() uint64 {
	if e.released {
		return 0
	}
	e.released = true
	for _, t := range e.weights {
		_ = t.FinalizeAll()
	}
	e.weights = nil
	for _, x := range []*Exec{e.embedExec, e.layerExec, e.stackExec} {
		if x != nil {
			x.Finalize()
		}
	}
	e.embedExec, e.layerExec, e.stackExec = nil, nil, nil
	freed := e.bytes
	e.bytes = 0
	return freed
}

// Close releases the encoder (io.Closer).
func (e *Encoder) Close() error {
	e.Release()
	return nil
}

// Encode runs the text encoder on a batch of token ids [B][L] with their
// attention masks [B][L] (1 = token, 0 = padding on the spec's PadSide) and
// returns the stacked hidden states [B, L, len(Layers)·Hidden] in float32:
// for every token the selected hidden states concatenated in layer order, as
// the FLUX.2 pipelines build prompt_embeds. Position ids are 0..L−1 over the
// padded sequence (what transformers uses when none are passed).
func (e *Encoder) Encode(ids, mask [][]int32) (*tensors.Tensor, error) {
	if e.released {
		return nil, errors.New("text encoder used after Release")
	}
	idsT, maskT, err := e.inputs(ids, mask)
	if err != nil {
		return nil, err
	}
	defer idsT.FinalizeAll()
	defer maskT.FinalizeAll()
	cos, sin, err := e.spec.Config.RoPETables(len(ids[0]))
	if err != nil {
		return nil, err
	}
	defer cos.FinalizeAll()
	defer sin.FinalizeAll()

	// states[k] holds hidden state k while some selected index needs it.
	wanted := map[int]bool{}
	for _, k := range e.spec.Layers {
		wanted[k] = true
	}
	states := map[int]*tensors.Tensor{}
	defer func() {
		for _, t := range states {
			_ = t.FinalizeAll()
		}
	}()
	h, err := e.embed(idsT)
	if err != nil {
		return nil, err
	}
	for i := 0; i < e.spec.Depth(); i++ {
		next, err := e.layer(i, h, maskT, cos, sin)
		if wanted[i] {
			states[i] = h
		} else {
			_ = h.FinalizeAll()
		}
		if err != nil {
			return nil, err
		}
		h = next
	}
	if wanted[e.spec.Depth()] {
		states[e.spec.Depth()] = h
	} else {
		_ = h.FinalizeAll()
	}
	return e.stack(states)
}

// inputs validates ids and mask and makes them [B, L] int32 tensors.
func (e *Encoder) inputs(ids, mask [][]int32) (*tensors.Tensor, *tensors.Tensor, error) {
	c := e.spec.Config
	if len(ids) == 0 || len(ids[0]) == 0 {
		return nil, nil, errors.New("text encoder: empty batch of token ids")
	}
	b, l := len(ids), len(ids[0])
	if l > c.MaxPositions {
		return nil, nil, fmt.Errorf("text encoder: sequence length %d exceeds the model's %d positions", l, c.MaxPositions)
	}
	if len(mask) != b {
		return nil, nil, fmt.Errorf("text encoder: %d token rows but %d mask rows", b, len(mask))
	}
	flatIDs := make([]int32, 0, b*l)
	flatMask := make([]int32, 0, b*l)
	for r := range ids {
		if len(ids[r]) != l || len(mask[r]) != l {
			return nil, nil, fmt.Errorf("text encoder: row %d has %d ids and %d mask values, row 0 has %d ids (pad every prompt to the same length)", r, len(ids[r]), len(mask[r]), l)
		}
		for j, id := range ids[r] {
			if id < 0 || int(id) >= c.VocabSize {
				return nil, nil, fmt.Errorf("text encoder: token id %d at row %d position %d is outside the vocabulary 0..%d (wrong tokenizer?)", id, r, j, c.VocabSize-1)
			}
		}
		if err := checkMaskRow(mask[r], e.spec.PadSide); err != nil {
			return nil, nil, fmt.Errorf("text encoder %s: mask row %d: %w", e.spec.Name, r, err)
		}
		flatIDs = append(flatIDs, ids[r]...)
		flatMask = append(flatMask, mask[r]...)
	}
	return tensors.FromFlatDataAndDimensions(flatIDs, b, l), tensors.FromFlatDataAndDimensions(flatMask, b, l), nil
}

// checkMaskRow checks a mask row holds 0/1 values, at least one token, and
// padding only on the expected side (the reference embeddings depend on it).
func checkMaskRow(row []int32, side PadSide) error {
	tokens, firstToken, lastToken := 0, -1, -1
	for j, m := range row {
		switch m {
		case 1:
			tokens++
			if firstToken < 0 {
				firstToken = j
			}
			lastToken = j
		case 0:
		default:
			return fmt.Errorf("value %d at position %d (masks hold 0 for padding, 1 for tokens)", m, j)
		}
	}
	if tokens == 0 {
		return errors.New("no tokens (all padding)")
	}
	if lastToken-firstToken+1 != tokens {
		return errors.New("padding inside the prompt (tokens must be contiguous)")
	}
	if side == PadLeft && lastToken != len(row)-1 {
		return errors.New("padding on the right, but this model's prompts are padded on the left")
	}
	if side == PadRight && firstToken != 0 {
		return errors.New("padding on the left, but this model's prompts are padded on the right")
	}
	return nil
}

// argsOf returns the weights prefix+rel[i] as program arguments.
func (e *Encoder) argsOf(prefix string, rel []string) []any {
	out := make([]any, len(rel))
	for i, r := range rel {
		out[i] = e.weights[prefix+r]
	}
	return out
}

// embed runs the embedding program: ids [B, L] → hidden state 0.
func (e *Encoder) embed(ids *tensors.Tensor) (*tensors.Tensor, error) {
	if e.embedExec == nil {
		x, err := NewExec(e.backend, func(ids, table *Node) *Node {
			return e.spec.Config.Embed(WeightsFromMap(map[string]*Node{embedName: table}), ids)
		})
		if err != nil {
			return nil, fmt.Errorf("text encoder embedding program: %w", err)
		}
		e.embedExec = x
	}
	out, err := e.embedExec.Exec(ids, e.weights[embedName])
	if err != nil {
		return nil, fmt.Errorf("text encoder embeddings: %w", err)
	}
	return out[0], nil
}

// layerArgs are the names, relative to a layer, of the tensors every decoder
// layer passes to the shared layer program (quantized weights have several
// parts instead of one "…_proj.weight").
func (e *Encoder) layerArgs() []string {
	prefix := layerName(0) + "."
	var rel []string
	for n := range e.weights {
		if r, ok := strings.CutPrefix(n, prefix); ok {
			rel = append(rel, r)
		}
	}
	sort.Strings(rel)
	return rel
}

// layer runs decoder layer i on hidden state h.
func (e *Encoder) layer(i int, h, mask, cos, sin *tensors.Tensor) (*tensors.Tensor, error) {
	c := e.spec.Config
	rel := e.layerArgs()
	if e.layerExec == nil {
		x, err := NewExec(e.backend, func(inputs []*Node) *Node {
			h, mask, cos, sin := inputs[0], inputs[1], inputs[2], inputs[3]
			nodes := map[string]*Node{}
			for j, r := range rel {
				nodes[r] = inputs[4+j]
			}
			allowed := AttentionAllowed(mask, c.SlidingWindow)
			return c.DecoderLayer(WeightsFromMap(nodes), h, allowed, cos, sin)
		})
		if err != nil {
			return nil, fmt.Errorf("text encoder layer program: %w", err)
		}
		e.layerExec = x
	}
	args := append([]any{h, mask, cos, sin}, e.argsOf(layerName(i)+".", rel)...)
	out, err := e.layerExec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("text encoder layer %d: %w", i, err)
	}
	return out[0], nil
}

// stack concatenates the selected hidden states per token, in layer order,
// as float32 [B, L, len(Layers)·Hidden]. Hidden state NumLayers is passed
// through the final norm first (transformers reports the normed output as
// the last hidden state).
func (e *Encoder) stack(states map[int]*tensors.Tensor) (*tensors.Tensor, error) {
	c := e.spec.Config
	layers := e.spec.Layers
	normed := e.spec.needsFinalNorm()
	if e.stackExec == nil {
		x, err := NewExec(e.backend, func(inputs []*Node) *Node {
			parts := make([]*Node, len(layers))
			for i, k := range layers {
				part := inputs[i]
				if k == c.NumLayers {
					part = RMSNorm(part, inputs[len(layers)], c.RMSNormEps)
				}
				parts[i] = ConvertDType(part, dtypes.Float32)
			}
			return Concatenate(parts, -1)
		})
		if err != nil {
			return nil, fmt.Errorf("text encoder stacking program: %w", err)
		}
		e.stackExec = x
	}
	args := make([]any, 0, len(layers)+1)
	for _, k := range layers {
		args = append(args, states[k])
	}
	if normed {
		args = append(args, e.weights[finalNormName])
	}
	out, err := e.stackExec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("text encoder stacking: %w", err)
	}
	return out[0], nil
}
