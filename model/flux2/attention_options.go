package flux2

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
)

// AttentionKernel names an implementation of the attention core
// softmax(q·kᵀ/√hd)·v.
type AttentionKernel string

const (
	// AttentionBlocked (the default) processes the queries in blocks, keeps
	// only the output and the per-row log-sum-exp for the backward pass, and
	// recomputes each block's probabilities there (FlashAttention's
	// algorithm): no tensor exceeds one block's [B, H, blockQ, S] logits
	// (the whole [B, H, S, S] only when it fits the block budget).
	AttentionBlocked AttentionKernel = "blocked"
	// AttentionPlain materialises the [B, H, S, S] probabilities and lets
	// GoMLX's autodiff differentiate the softmax. It is the reference the
	// blocked kernel is tested against.
	AttentionPlain AttentionKernel = "plain"
)

// AttentionOptions choose how the transformer computes attention. The zero
// value is the blocked kernel with block sizes chosen per backend and shape.
// They change no result beyond float rounding.
type AttentionOptions struct {
	// Kernel is AttentionBlocked ("" means the same) or AttentionPlain.
	Kernel AttentionKernel
	// BlockQ is the number of query rows per block of the blocked kernel;
	// 0 chooses it from the backend and the shape (see QueryBlock).
	BlockQ int
}

// Validate checks the options.
func (o AttentionOptions) Validate() error {
	switch o.Kernel {
	case "", AttentionBlocked, AttentionPlain:
	default:
		return fmt.Errorf("attention kernel %q is not %q or %q", o.Kernel, AttentionBlocked, AttentionPlain)
	}
	if o.BlockQ < 0 {
		return fmt.Errorf("attention query block %d must be >= 0 (0 = automatic)", o.BlockQ)
	}
	return nil
}

// KernelName is the kernel the options select ("" is AttentionBlocked).
func (o AttentionOptions) KernelName() AttentionKernel {
	if o.Kernel == "" {
		return AttentionBlocked
	}
	return o.Kernel
}

// signature identifies the options in compiled-program cache keys.
func (o AttentionOptions) signature() string {
	return fmt.Sprintf("attn=%s/%d", o.KernelName(), o.BlockQ)
}

// Automatic block sizes. One query block's logits [B, H, blockQ, S] in
// float32 stay under the backend's budget, and the number of blocks (each
// unrolled in the graph: GoMLX v0.26 has no loops) under
// maxAttentionBlocks. Sequences whose whole [B, H, S, S] fits the budget
// run as one block (the backward still recomputes the probabilities from
// the log-sum-exp instead of keeping them).
//
// The budgets are measured (PERF.md, "Memory-efficient attention"): on XLA
// CPU, blocks of 128–256 rows at 1,152 tokens (2–5 MiB of logits, cache
// sized) ran an attention's forward + backward ~2× faster than one block;
// on the pure-Go backend, whose element-wise loops gain nothing from
// smaller blocks, one block was fastest; GPUs want few, large kernels.
const (
	attentionBudgetGo     = 32 << 20  // bytes: pure-Go backend
	attentionBudgetXLACPU = 4 << 20   // bytes: XLA CPU
	attentionBudgetGPU    = 256 << 20 // bytes: XLA on GPUs (and TPUs)
	maxAttentionBlocks    = 32
	attentionBlockAlign   = 64 // rows
)

// AttentionBudget returns the byte budget of one query block's logits the
// automatic block choice uses on a backend, identified by its name and
// description (for memory plans of that backend).
func AttentionBudget(b backends.Backend) int64 {
	if b == nil {
		return attentionBudgetGo
	}
	return budgetFor(b.Name(), b.Description())
}

// budgetFor picks the budget from a backend's name ("xla" for XLA, with
// the PJRT plugin in the description) and description.
func budgetFor(name, description string) int64 {
	switch {
	case !strings.Contains(strings.ToLower(name), "xla"):
		return attentionBudgetGo
	case onAccelerator(description):
		return attentionBudgetGPU
	}
	return attentionBudgetXLACPU
}

// onAccelerator reports whether an XLA backend's description names a GPU or
// TPU plugin.
func onAccelerator(description string) bool {
	d := strings.ToLower(description)
	for _, accel := range []string{"cuda", "rocm", "gpu", "tpu"} {
		if strings.Contains(d, accel) {
			return true
		}
	}
	return false
}

// OnAccelerator reports whether the backend runs on a GPU or TPU (its
// memory is not the host's).
func OnAccelerator(b backends.Backend) bool {
	return b != nil && strings.Contains(strings.ToLower(b.Name()), "xla") && onAccelerator(b.Description())
}

// AttentionBudgetGPU is the automatic blocked attention's budget for one
// query block's float32 logits on GPUs, in bytes: what a training-memory plan
// for a GPU assumes (see AttentionBlockRows).
const AttentionBudgetGPU = attentionBudgetGPU

// AttentionBlockRows returns the query rows per block the automatic choice
// takes for batch b, h heads and s tokens under a per-block logits budget in
// bytes (AttentionBudgetGPU for GPUs): the same rule as QueryBlock.
func AttentionBlockRows(budget int64, b, h, s int) int { return autoQueryBlock(budget, b, h, s) }

// QueryBlock returns the number of query rows per block for an attention
// over batch b, h heads and s tokens on backend be: BlockQ when set (capped
// at s), else the automatic choice described above. The last block may be
// shorter.
func (o AttentionOptions) QueryBlock(be backends.Backend, b, h, s int) int {
	if o.BlockQ > 0 {
		return min(o.BlockQ, s)
	}
	return autoQueryBlock(AttentionBudget(be), b, h, s)
}

// autoQueryBlock splits s query rows into blocks whose float32 logits
// [b, h, block, s] fit budget bytes: the largest multiple of
// attentionBlockAlign rows that fits, then evened out over the blocks that
// needs. When that would take more than maxAttentionBlocks blocks, the
// blocks grow (past the budget) to keep the graph small.
func autoQueryBlock(budget int64, b, h, s int) int {
	rowBytes := int64(b) * int64(h) * int64(s) * 4
	if rowBytes*int64(s) <= budget || s <= attentionBlockAlign {
		return s
	}
	rows := int(budget/rowBytes) / attentionBlockAlign * attentionBlockAlign
	rows = max(rows, attentionBlockAlign)
	if (s+rows-1)/rows > maxAttentionBlocks {
		rows = alignUp((s+maxAttentionBlocks-1)/maxAttentionBlocks, attentionBlockAlign)
	}
	n := (s + rows - 1) / rows
	return min(alignUp((s+n-1)/n, attentionBlockAlign), s)
}

// alignUp rounds x up to a multiple of align.
func alignUp(x, align int) int { return (x + align - 1) / align * align }
