package flux2

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Where tensors live between programs. The model runs as a sequence of
// programs whose weights and activations are arguments (see
// exec_blockwise.go), so what sits in device memory between two programs is
// decided here, not by the compiler:
//
//   - Resident weights are moved to the device once and their host copy is
//     dropped (on backends whose buffers share host memory, such as XLA CPU
//     and the pure-Go backend, the two are one allocation): a weight is never
//     held twice.
//   - Block swap (MemoryOptions.BlocksOnHost) keeps the weights of the last
//     blocks in host memory only; each is copied to the device just before
//     its block runs (forward and backward) and the device copy is dropped
//     right after. The next block's copy starts while the current one runs.
//   - Activation offload (MemoryOptions.OffloadActivations) moves each block
//     input saved for the backward pass to host memory as soon as the
//     forward no longer needs it; the backward copies it back.

// MemoryOptions choose what the block-wise training step (gradient
// checkpointing) keeps in host memory instead of device memory. The zero
// value keeps everything on the device. They change no result: the same
// programs run on the same values.
type MemoryOptions struct {
	// OffloadActivations moves the block inputs saved for the backward pass
	// to host memory during the forward pass.
	OffloadActivations bool
	// BlocksOnHost is the number of transformer blocks whose weights stay in
	// host memory and are streamed to the device for each use (block swap):
	// the last single blocks first, then the last double blocks.
	BlocksOnHost int
}

// Validate checks the options against an architecture.
func (o MemoryOptions) Validate(c Config) error {
	if n := c.Depth + c.DepthSingle; o.BlocksOnHost < 0 || o.BlocksOnHost > n {
		return fmt.Errorf("blocks on host %d must be between 0 and the model's %d blocks", o.BlocksOnHost, n)
	}
	return nil
}

// Streams reports whether the options move anything between host and device
// during a step (and so need the block-wise execution).
func (o MemoryOptions) Streams() bool { return o.OffloadActivations || o.BlocksOnHost > 0 }

// HostBlockPrefixes returns the module prefixes ("single_blocks.47.") of the
// n blocks whose weights block swap keeps on the host: the last n blocks in
// forward order.
func (c Config) HostBlockPrefixes(n int) []string {
	var out []string
	for i := c.DepthSingle - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, singleBlockName(i)+".")
	}
	for i := c.Depth - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, doubleBlockName(i)+".")
	}
	return out
}

// streamed reports whether block swap keeps the variable (official name)
// on the host: a frozen weight of one of the blocks it holds there.
// Trainable variables (the adapter) stay on the device, where the optimizer
// updates them.
func (m *Model) streamed(name string) bool {
	v, ok := m.vars[name]
	return ok && !v.Trainable && m.onHost(name)
}

// onHost reports whether the name (a variable or a stage prefix) belongs to
// a block whose weights block swap keeps on the host.
func (m *Model) onHost(name string) bool {
	pos, ok := m.Config.blockPosition(name)
	return ok && pos >= m.Config.Depth+m.Config.DepthSingle-m.Memory.BlocksOnHost
}

// place moves a resident weight to the device and drops its host copy. A
// tensor already there is left as it is.
func (m *Model) place(t *tensors.Tensor) error {
	if m.backend == nil {
		return nil
	}
	if err := t.MaterializeOnDevice(m.backend, true, 0); err != nil {
		return err
	}
	t.FinalizeLocal() // a no-op for buffers shared with host memory
	return nil
}

// toHost makes the host copy of t the only one: it is copied back from the
// device if needed and the device copy is released.
func toHost(t *tensors.Tensor) error {
	if t.IsShared() {
		return nil // one allocation serves both sides
	}
	t.MaterializeLocal()
	return t.InvalidateOnDevice()
}

// upload copies host-held tensors to the device (for block swap).
func (m *Model) upload(ts []*tensors.Tensor) error {
	for _, t := range ts {
		if err := t.MaterializeOnDevice(m.backend, false, 0); err != nil {
			return err
		}
	}
	return nil
}

// streamer keeps track of where one step's tensors are. It overlaps block
// swap's copies with compute: prefetch starts copying a stage's weights to
// the device in the background; wait returns once they are there. On
// several devices, mesh holds the device values behind the tensors the
// block-wise code passes around (see meshStep); nil on one device.
type streamer struct {
	m       *Model
	pending map[string]chan error
	mesh    *meshStep
}

// newStreamer returns a streamer with no copy under way.
func newStreamer(m *Model) *streamer {
	return &streamer{m: m, pending: map[string]chan error{}}
}

// prefetch starts the upload of a host-held stage's weights; stages kept on
// the device are ignored.
func (s *streamer) prefetch(st stageWeights) {
	if !st.onHost || s.pending[st.prefix] != nil {
		return
	}
	var ts []*tensors.Tensor
	var err error
	for _, r := range st.rel {
		if n := st.prefix + r; s.m.streamed(n) && err == nil {
			var t *tensors.Tensor
			t, err = s.m.value(n)
			ts = append(ts, t)
		}
	}
	done := make(chan error, 1)
	s.pending[st.prefix] = done
	if err != nil {
		done <- err
		return
	}
	go func() { done <- s.m.upload(ts) }()
}

// wait blocks until a prefetched stage's upload is complete.
func (s *streamer) wait(st stageWeights) error {
	done := s.pending[st.prefix]
	if done == nil {
		return nil
	}
	delete(s.pending, st.prefix)
	if err := <-done; err != nil {
		return fmt.Errorf("flux2: copying %s weights to the device: %w", strings.TrimSuffix(st.prefix, "."), err)
	}
	return nil
}

// release frees tensors the step no longer needs, on every device they are
// on (see release).
func (s *streamer) release(ts ...*tensors.Tensor) {
	if s.mesh != nil {
		s.mesh.release(ts...)
		return
	}
	release(ts...)
}

// zerosLike returns a float32 zero tensor of t's dimensions (global ones, on
// several devices).
func (s *streamer) zerosLike(t *tensors.Tensor) (*tensors.Tensor, error) {
	if s.mesh != nil {
		return s.mesh.zerosLike(t)
	}
	return zerosLike(t), nil
}

// release frees tensors the step no longer needs, now instead of at the
// next garbage collection.
func release(ts ...*tensors.Tensor) {
	for _, t := range ts {
		if t != nil {
			_ = t.FinalizeAll()
		}
	}
}
