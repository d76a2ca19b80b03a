package flux2

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestMemoryOptionsSameResults runs two block-wise training steps of the
// tiny model with activation offload and block swap and compares them with
// the same steps keeping everything on the device: the loss and every
// gradient are bit-identical (the same programs run on the same values).
// After the steps each streamed weight has no device copy left and every
// other weight one; a streamed Forward matches the one-program Forward.
func TestMemoryOptionsSameResults(t *testing.T) {
	cfg := TinyConfig()
	blocks := cfg.Depth + cfg.DepthSingle
	tests := []struct {
		opts      MemoryOptions
		trainable []string
	}{
		{MemoryOptions{OffloadActivations: true}, []string{"double_blocks.0.img_attn.qkv.weight", "single_blocks.1.linear1.weight"}},
		{MemoryOptions{BlocksOnHost: 1}, []string{"double_blocks.1.txt_mlp.0.weight", "single_blocks.1.linear1.weight"}},
		{MemoryOptions{BlocksOnHost: blocks, OffloadActivations: true}, []string{"img_in.weight", "single_blocks.0.linear2.weight"}},
		{MemoryOptions{BlocksOnHost: cfg.DepthSingle + 1}, []string{"single_blocks.1.linear1.weight"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%+v", tc.opts), func(t *testing.T) {
			newModel := func(opts MemoryOptions) *Model {
				m := randomModel(t, cfg, 3)
				for _, n := range tc.trainable {
					m.Variable(n).SetTrainable(true)
				}
				m.Memory = opts
				return m
			}
			ref, m := newModel(MemoryOptions{}), newModel(tc.opts)
			tb := randomBatch(t, m, 1, 3, 5, 4, 4)
			for step := 1; step <= 2; step++ {
				want, err := ref.LossAndGradients(tb, dtypes.Float32, true)
				if err != nil {
					t.Fatal(err)
				}
				got, err := m.LossAndGradients(tb, dtypes.Float32, false) // streaming implies block-wise
				if err != nil {
					t.Fatal(err)
				}
				if got.Loss != want.Loss || len(got.Grads) != len(want.Grads) {
					t.Fatalf("step %d: loss %.9g (%d grads), on device %.9g (%d grads)", step, got.Loss, len(got.Grads), want.Loss, len(want.Grads))
				}
				for n, g := range want.Grads {
					if e := testutil.RelL2Tensors(t, got.Grads[n], g); e != 0 {
						t.Errorf("step %d: grad %s differs (relative L2 %.3g)", step, n, e)
					}
				}
			}
			hostBlocks := cfg.HostBlockPrefixes(tc.opts.BlocksOnHost)
			if len(hostBlocks) != tc.opts.BlocksOnHost {
				t.Fatalf("HostBlockPrefixes(%d) = %v", tc.opts.BlocksOnHost, hostBlocks)
			}
			streamed := 0
			for _, n := range m.VariableNames() {
				v, err := m.Variable(n).Value()
				if err != nil {
					t.Fatal(err)
				}
				onHost := !m.Variable(n).Trainable && hasAnyPrefix(n, hostBlocks)
				if onHost {
					streamed++
				}
				if v.IsOnAnyDevice() == onHost {
					t.Errorf("%s: on device %v after the step, want %v", n, v.IsOnAnyDevice(), !onHost)
				}
			}
			if tc.opts.BlocksOnHost > 0 && streamed == 0 {
				t.Fatal("no weight was streamed")
			}
			want, err := ref.Forward(tb.Batch, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Forward(tb.Batch, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			if e := testutil.RelL2Tensors(t, got, want); e > 1e-6 {
				t.Errorf("streamed Forward: relative L2 error %.3g > 1e-6", e)
			}
		})
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestMemoryOptionsValidate: block swap's count is checked against the
// model before a step starts.
func TestMemoryOptionsValidate(t *testing.T) {
	cfg := TinyConfig()
	n := cfg.Depth + cfg.DepthSingle
	for _, tc := range []struct {
		opts    MemoryOptions
		wantErr string
	}{
		{MemoryOptions{}, ""},
		{MemoryOptions{BlocksOnHost: n, OffloadActivations: true}, ""},
		{MemoryOptions{BlocksOnHost: n + 1}, fmt.Sprintf("between 0 and the model's %d blocks", n)},
		{MemoryOptions{BlocksOnHost: -1}, "blocks on host -1"},
	} {
		err := tc.opts.Validate(cfg)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.wantErr)
		}
	}
	m := randomModel(t, cfg, 1)
	m.Variable("single_blocks.0.linear1.weight").SetTrainable(true)
	m.Memory = MemoryOptions{BlocksOnHost: n + 1}
	tb := randomBatch(t, m, 1, 2, 2, 3, 1)
	if _, err := m.LossAndGradients(tb, dtypes.Float32, true); err == nil || !strings.Contains(err.Error(), "blocks on host") {
		t.Errorf("LossAndGradients with too many blocks on host: error %v", err)
	}
}

// TestSavedActivationsInComputeDType: the block inputs the block-wise step
// keeps for the backward pass are in the compute dtype (bf16 halves them),
// and with offload they are held on the host only.
func TestSavedActivationsInComputeDType(t *testing.T) {
	for _, offload := range []bool{false, true} {
		m := randomModel(t, TinyConfig(), 3)
		m.Memory = MemoryOptions{OffloadActivations: offload}
		tb := randomBatch(t, m, 1, 3, 5, 4, 4)
		f, err := m.forwardBlockwise(newStreamer(m), m.blockwisePlan(), tb.Batch, dtypes.BFloat16, true)
		if err != nil {
			t.Fatal(err)
		}
		var saved []*tensors.Tensor
		for _, s := range f.saved {
			saved = append(saved, s...)
		}
		if len(saved) != 2*m.Config.Depth+m.Config.DepthSingle {
			t.Fatalf("%d saved inputs", len(saved))
		}
		for i, s := range saved {
			if s.DType() != dtypes.BFloat16 {
				t.Errorf("saved input %d is %s, want bfloat16", i, s.DType())
			}
			if onDevice := s.IsOnAnyDevice() && !s.IsShared(); offload && onDevice {
				t.Errorf("offload: saved input %d still has a device copy", i)
			}
		}
		f.release()
	}
}
