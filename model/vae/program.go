package vae

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// weightsFor returns the sorted official names under the given prefixes
// (plus the BatchNorm statistics) and their values.
func (v *VAE) weightsFor(prefix string) ([]string, []*tensors.Tensor, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var names []string
	for n := range v.shapes {
		if strings.HasPrefix(n, prefix) || n == bnMean || n == bnVar {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	values := make([]*tensors.Tensor, len(names))
	for i, n := range names {
		t, ok := v.weights[n]
		if !ok {
			return nil, nil, fmt.Errorf("vae: weight %s is not set", n)
		}
		values[i] = t
	}
	return names, values, nil
}

// program returns the cached program of a kind ("encode" or "decode"),
// building it on first use. GoMLX compiles it once per input shape.
func (v *VAE) program(kind string, names []string) (*Exec, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.programs[kind]; ok {
		return e, nil
	}
	net, dtype := v.net, v.dtype
	e, err := NewExec(v.backend, func(inputs []*Node) *Node {
		byName := make(map[string]*Node, len(names))
		for i, n := range names {
			byName[n] = inputs[1+i]
		}
		w := WeightsFromMap(byName)
		if kind == "encode" {
			return net.EncodeLatents(w, ConvertDType(inputs[0], dtype))
		}
		return ConvertDType(net.DecodeLatents(w, inputs[0], dtype), dtypes.Float32)
	})
	if err != nil {
		return nil, fmt.Errorf("vae: building the %s program: %w", kind, err)
	}
	// One compiled graph per input shape; image buckets are few, so the
	// cache is unbounded rather than failing past GoMLX's default of 32.
	e = e.WithName("vae_" + kind).SetMaxCache(-1)
	v.programs[kind] = e
	return e, nil
}

// run executes a program on one input plus its weights.
func (v *VAE) run(kind, prefix string, input *tensors.Tensor) (*tensors.Tensor, error) {
	names, values, err := v.weightsFor(prefix)
	if err != nil {
		return nil, err
	}
	e, err := v.program(kind, names)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, 1+len(values))
	args = append(args, input)
	for _, t := range values {
		args = append(args, t)
	}
	out, err := e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("vae %s: %w", kind, err)
	}
	return out[0], nil
}
