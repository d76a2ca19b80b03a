package textenc

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/model/weights"
)

// Table file layout: the names a table's safetensors file uses.
const (
	// TableContext is the tensor of prompt embeddings [N, L, D].
	TableContext = "ctx"
	// TableNegative is the optional negative-prompt embedding [1, L, D].
	TableNegative = "negative"
	// TablePrompts is the metadata key holding the JSON array of the N
	// prompts, row by row.
	TablePrompts = "prompts"
)

// Table is a file of precomputed prompt embeddings, used instead of a text
// encoder (a model without one, such as the official tiny fixture, or
// embeddings made by another tool): tensor "ctx" [N, L, D] — one row per
// prompt, D the transformer's context width — with the prompts as a JSON
// array in metadata "prompts", and an optional "negative" [1, L, D].
// Encode looks prompts up by exact text.
type Table struct {
	// Path is the file the table was read from.
	Path string
	// Prompts name the rows (nil when the file has no "prompts" metadata:
	// rows can then only be taken by index).
	Prompts []string
	// Negative is the negative-prompt embedding [1, L, D], or nil.
	Negative *tensors.Tensor
	ctx      *tensors.Tensor
	rows     map[string]int
	id       string
}

// OpenTable reads a table and checks it against the transformer's context
// width contextDim.
func OpenTable(path string, contextDim int) (*Table, error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, fmt.Errorf("embedding table: %w", err)
	}
	defer f.Close()
	t := &Table{Path: path}
	if t.ctx, err = f.TensorAs(TableContext, dtypes.Float32); err != nil {
		return nil, fmt.Errorf("embedding table %s: %w (the file needs a %q tensor [N, L, D])", path, err, TableContext)
	}
	if d := t.ctx.Shape().Dimensions; len(d) != 3 || d[2] != contextDim {
		return nil, fmt.Errorf("embedding table %s: %q has shape %v, want [N, L, %d] for this model", path, TableContext, d, contextDim)
	}
	if _, ok := f.Info(TableNegative); ok {
		if t.Negative, err = f.TensorAs(TableNegative, dtypes.Float32); err != nil {
			return nil, fmt.Errorf("embedding table %s: %w", path, err)
		}
		if want := []int{1, t.ctx.Shape().Dim(1), contextDim}; !slices.Equal(t.Negative.Shape().Dimensions, want) {
			return nil, fmt.Errorf("embedding table %s: %q has shape %v, want %v", path, TableNegative, t.Negative.Shape().Dimensions, want)
		}
	}
	if err := t.readPrompts(f.Metadata()); err != nil {
		return nil, err
	}
	t.id = fileID(path)
	return t, nil
}

// readPrompts parses the "prompts" metadata: one distinct prompt per row.
func (t *Table) readPrompts(meta map[string]string) error {
	raw, ok := meta[TablePrompts]
	if !ok {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), &t.Prompts); err != nil {
		return fmt.Errorf("embedding table %s: metadata %q must be a JSON array of strings: %w", t.Path, TablePrompts, err)
	}
	if len(t.Prompts) != t.Len() {
		return fmt.Errorf("embedding table %s: metadata %q lists %d prompts for %d rows of %q", t.Path, TablePrompts, len(t.Prompts), t.Len(), TableContext)
	}
	t.rows = make(map[string]int, len(t.Prompts))
	for i, p := range t.Prompts {
		if j, dup := t.rows[p]; dup {
			return fmt.Errorf("embedding table %s: prompt %q is listed twice (rows %d and %d)", t.Path, p, j, i)
		}
		t.rows[p] = i
	}
	return nil
}

// Len is the number of rows.
func (t *Table) Len() int { return t.ctx.Shape().Dim(0) }

// Row returns row i as [1, L, D].
func (t *Table) Row(i int) *tensors.Tensor { return t.gather([]int{i}) }

// Encode returns the rows of prompts, [len(prompts), L, D]; it names the
// prompts the table lacks.
func (t *Table) Encode(prompts []string) (*tensors.Tensor, error) {
	if t.rows == nil {
		return nil, fmt.Errorf("embedding table %s has no %q metadata naming its rows, so prompts cannot be looked up", t.Path, TablePrompts)
	}
	idx := make([]int, len(prompts))
	var missing []string
	for i, p := range prompts {
		j, ok := t.rows[p]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q", p))
		}
		idx[i] = j
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 5 {
			more = fmt.Sprintf(" and %d more", len(missing)-5)
			missing = missing[:5]
		}
		return nil, fmt.Errorf("embedding table %s lacks %s%s: add a row for each (captions exactly as trained: trigger applied; the empty caption when caption_dropout > 0)",
			t.Path, strings.Join(missing, ", "), more)
	}
	return t.gather(idx), nil
}

// gather copies rows idx of the table into a new [len(idx), L, D] tensor.
func (t *Table) gather(idx []int) *tensors.Tensor {
	d := t.ctx.Shape().Dimensions
	per := d[1] * d[2]
	out := make([]float32, 0, len(idx)*per)
	tensors.ConstFlatData(t.ctx, func(all []float32) {
		for _, i := range idx {
			out = append(out, all[i*per:(i+1)*per]...)
		}
	})
	return tensors.FromFlatDataAndDimensions(out, len(idx), d[1], d[2])
}

// Identity names the table's content (a hash of the file), for cache keys.
func (t *Table) Identity() string { return "table:" + t.id }

// Name describes the table for logs.
func (t *Table) Name() string { return "embedding table " + t.Path }

// MaxLen is the token length L of every row.
func (t *Table) MaxLen() int { return t.ctx.Shape().Dim(1) }

// Release does nothing: a table holds no device memory.
func (t *Table) Release() uint64 { return 0 }

// WriteTable writes a table: ctx [N, L, D] named by prompts (len N,
// distinct), and negative [1, L, D] or nil.
func WriteTable(path string, prompts []string, ctx, negative *tensors.Tensor) error {
	if ctx.Rank() != 3 || ctx.Shape().Dim(0) != len(prompts) {
		return fmt.Errorf("embedding table %s: ctx %v needs one row per prompt (%d)", path, ctx.Shape().Dimensions, len(prompts))
	}
	names, err := json.Marshal(prompts)
	if err != nil {
		return err
	}
	ts := []*tensors.Tensor{ctx}
	keys := []string{TableContext}
	if negative != nil {
		ts, keys = append(ts, negative), append(keys, TableNegative)
	}
	data := make([]weights.TensorData, len(ts))
	for i, t := range ts {
		if data[i], err = weights.FromTensor(keys[i], t); err != nil {
			return fmt.Errorf("embedding table %s: %w", path, err)
		}
	}
	return weights.WriteFile(path, data, map[string]string{TablePrompts: string(names)})
}

// EncodeNegative returns the negative prompt's context [1, L, D]: a
// table's "negative" tensor when it has one, else negative encoded (or
// looked up) like any prompt.
func EncodeNegative(c Contexts, negative string) (*tensors.Tensor, error) {
	if t, ok := c.(*Table); ok && t.Negative != nil {
		return t.Negative, nil
	}
	return c.Encode([]string{negative})
}
