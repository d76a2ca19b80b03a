package train

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/gomlx/gomlx/backends"
)

// MemoryPlanInput describes a training run for memory estimation.
type MemoryPlanInput struct {
	Config flux2.Config
	Quant  quant.Options
	// ComputeBytes is 2 for bfloat16 activations and unquantized weights, 4
	// for float32.
	ComputeBytes int
	Targets      []lora.Target
	EightBitAdam bool
	// Resolution is the image side (square); TextTokens the context length.
	Resolution, TextTokens, Batch int
	Checkpointing                 bool
	// OffloadActivations and BlocksOnHost are the step's host-memory
	// options (flux2.MemoryOptions); either implies checkpointing.
	OffloadActivations bool
	BlocksOnHost       int
	// Device describes the device the plan is for; the zero value is a GPU.
	Device PlanDevice
}

// PlanDevice is what a memory plan assumes about the device.
type PlanDevice struct {
	// AttentionBudget is the bytes of one attention query block's float32
	// logits the automatic block choice allows there
	// (flux2.AttentionBudget); 0 means flux2.AttentionBudgetGPU.
	AttentionBudget int64
	// Runtime is the runtime's fixed memory beyond what the plan lists
	// (CUDA context, cuBLAS/cuDNN workspaces, compiled programs); 0 means
	// the GPU default, DefaultGPURuntime.
	Runtime int64
	// ActivationSlack is the allocator's slack as a fraction of the
	// activations: memory freed between programs that the C heap keeps
	// (CPU backends; GPU allocators pool it).
	ActivationSlack float64
}

// DefaultGPURuntime is the fixed device memory of XLA's CUDA runtime that a
// GPU plan reserves.
const DefaultGPURuntime = 1 << 30

// What a CPU backend's training step adds to the process beyond the
// device's share, measured on XLA CPU (PERF.md §11): the compiled step
// programs and the runtime (117–330 MiB across the measured configurations,
// after returning compile memory to the system), and C-heap slack of about
// a quarter of the activations (program outputs and parameters below
// glibc's mmap threshold, freed between programs but kept by malloc).
const (
	hostRuntime         = 256 << 20
	hostActivationSlack = 0.25
)

// PlanDeviceFor describes the device of a backend: a GPU's, or the host's
// for the CPU backends (their attention block budget, no CUDA context).
func PlanDeviceFor(b backends.Backend) PlanDevice {
	if flux2.OnAccelerator(b) {
		return PlanDevice{}
	}
	return PlanDevice{AttentionBudget: flux2.AttentionBudget(b), Runtime: hostRuntime, ActivationSlack: hostActivationSlack}
}

// MemoryOptions returns the model options the input plans for.
func (in MemoryPlanInput) MemoryOptions() flux2.MemoryOptions {
	return flux2.MemoryOptions{OffloadActivations: in.OffloadActivations, BlocksOnHost: in.BlocksOnHost}
}

// MemoryPlan is an estimate of device memory, in bytes.
type MemoryPlan struct {
	BaseWeights, Adapter, Optimizer, Activations, Workspace, Total int64
	// Host is what block swap and activation offload hold in host memory
	// instead (not part of Total).
	Host int64
	// Detail lists how each number was formed.
	Detail []string
}

// Per-token activation widths saved for the backward pass, in multiples of
// the hidden size D, counted from the block code (norm outputs, projections,
// q/k after norm and RoPE, attention output, MLP intermediates, residuals):
// a double block keeps ~27·D per token and stream, a single block ~28·D.
//
// Attention keeps no [H, T, T] probabilities (flux2's blocked attention):
// per block it saves the float32 log-sum-exp [B, H, T], and while it runs, a
// query block's float32 logits [B, H, rows, T] exist a few times over
// (logits, probabilities and, in the backward, dP and dS):
// attnBlockTensors of them, with rows as the GPU budget chooses.
const (
	doubleActPerToken = 27
	singleActPerToken = 28
	attnBlockTensors  = 4
)

// storedBytes returns the bytes a base weight takes as stored: quantized
// per the scheme, or in compute-dtype floats.
func (in MemoryPlanInput) storedBytes(name string, dims []int, cb int64) (bytes int64, quantized bool) {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	if !in.Quant.Quantizes(name, dims) {
		return n * cb, false
	}
	switch in.Quant.Scheme {
	case quant.Int8, quant.FP8:
		return n + 4*int64(dims[0]), true
	case quant.NF4:
		scales := (n + quant.NF4Block - 1) / quant.NF4Block
		scaleBytes := 4 * scales
		if in.Quant.DoubleQuant {
			scaleBytes = scales + 4*((scales+quant.DoubleQuantBlock-1)/quant.DoubleQuantBlock) + 4 // int8 codes, float32 scales, offset
		}
		return n/2 + scaleBytes, true
	}
	return n * cb, false
}

// EstimateMemory estimates the device memory of a LoRA training step.
func EstimateMemory(in MemoryPlanInput) MemoryPlan {
	c := in.Config
	var p MemoryPlan
	cb := int64(in.ComputeBytes)
	if cb == 0 {
		cb = 2
	}
	// Base weights, and those of the blocks block swap keeps on the host.
	hostBlocks := c.HostBlockPrefixes(in.BlocksOnHost)
	perHostBlock := map[string]int64{}
	var quantized, plain int64
	for name, dims := range c.ParamShapes() {
		b, q := in.storedBytes(name, dims, cb)
		if q {
			quantized += b
		} else {
			plain += b
		}
		for _, pre := range hostBlocks {
			if strings.HasPrefix(name, pre) {
				perHostBlock[pre] += b
			}
		}
	}
	p.BaseWeights = quantized + plain
	p.Detail = append(p.Detail, fmt.Sprintf("base weights: %s quantized (%s) + %s in %d-byte floats",
		human(quantized), orNone(string(in.Quant.Scheme)), human(plain), cb))
	if len(hostBlocks) > 0 {
		var onHost, largest int64
		for _, b := range perHostBlock {
			onHost += b
			largest = max(largest, b)
		}
		// On the device: the resident blocks, the block running and the
		// next one being copied in.
		inFlight := int64(min(len(hostBlocks), 2)) * largest
		p.BaseWeights += inFlight - onHost
		p.Host += onHost
		p.Detail = append(p.Detail, fmt.Sprintf("block swap: %d blocks (%s) in host memory, %d of them (%s) on the device at a time",
			len(hostBlocks), human(onHost), min(len(hostBlocks), 2), human(inFlight)))
	}
	// Adapter: float32 weights + float32 gradients.
	var loraParams int64
	for _, t := range in.Targets {
		loraParams += int64(t.Rank) * int64(t.In+t.Out)
	}
	p.Adapter = 8 * loraParams
	opt := int64(8)
	if in.EightBitAdam {
		opt = 2
	}
	p.Optimizer = opt*loraParams + loraParams/16
	p.Detail = append(p.Detail, fmt.Sprintf("adapter: %d params (float32 weights + grads), AdamW state %d bytes/param", loraParams, opt))
	// Activations.
	n := int64(in.Resolution/16) * int64(in.Resolution/16)
	t := n + int64(in.TextTokens)
	b := int64(max(1, in.Batch))
	d := int64(c.Hidden)
	h := int64(c.NumHeads)
	lse := b * h * t * 4 // saved per block
	budget := in.Device.AttentionBudget
	if budget == 0 {
		budget = flux2.AttentionBudgetGPU
	}
	rows := int64(flux2.AttentionBlockRows(budget, int(b), c.NumHeads, int(t)))
	attnBlock := attnBlockTensors * b * h * rows * t * 4 // live while one attention runs
	double := b*t*d*doubleActPerToken*cb + lse
	single := b*t*d*singleActPerToken*cb + lse
	if in.Checkpointing || in.OffloadActivations || in.BlocksOnHost > 0 {
		boundary := b * t * d * cb
		inputs := int64(c.Depth + c.DepthSingle + 1)
		where := ""
		if in.OffloadActivations {
			// The input of the block running and the one being copied.
			p.Host += boundary * (inputs - 2)
			inputs = 2
			where = " (the others in host memory)"
		}
		p.Activations = boundary*inputs + max(double, single) + attnBlock
		p.Detail = append(p.Detail, fmt.Sprintf("activations: %d block inputs of %s%s + one block's activations (%s) + one attention query block (%d rows: %s)",
			inputs, human(boundary), where, human(max(double, single)), rows, human(attnBlock)))
	} else {
		p.Activations = int64(c.Depth)*double + int64(c.DepthSingle)*single + attnBlock
		p.Detail = append(p.Detail, fmt.Sprintf("activations: all %d blocks kept (%s each) + one attention query block (%d rows: %s)",
			c.Depth+c.DepthSingle, human(single), rows, human(attnBlock)))
	}
	// Workspace. Weights in compute dtype: with a quantized base, XLA
	// dequantizes each weight of a block once per program and keeps it for
	// the backward pass (measured on XLA CPU: the dev-width double block's
	// backward program held all of its dequantized weights), so the largest
	// block's dequantized weights, plus one weight's transposed copy for the
	// backward products; unquantized weights need copies of the largest
	// only. Then compiler temporaries (~10% of activations), the
	// allocator's slack on CPUs, and the runtime's fixed memory.
	var largest int64
	dequant := map[string]int64{}
	for name, dims := range c.ParamShapes() {
		if len(dims) != 2 {
			continue
		}
		n := int64(dims[0]) * int64(dims[1]) * cb
		largest = max(largest, n)
		if _, q := in.storedBytes(name, dims, cb); q {
			dequant[flux2.BlockOf(name)] += n
		}
	}
	var blockDequant int64
	for _, b := range dequant {
		blockDequant = max(blockDequant, b)
	}
	runtime := in.Device.Runtime
	if runtime == 0 {
		runtime = DefaultGPURuntime
	}
	slack := int64(float64(p.Activations) * in.Device.ActivationSlack)
	if blockDequant > 0 {
		p.Workspace = blockDequant + largest
		p.Detail = append(p.Detail, fmt.Sprintf("workspace: one block's dequantized weights (%s) + the largest weight's copy (%s) in compute dtype", human(blockDequant), human(largest)))
	} else {
		p.Workspace = 2 * largest
		p.Detail = append(p.Detail, fmt.Sprintf("workspace: 2× largest weight in compute dtype (%s)", human(largest)))
	}
	p.Workspace += p.Activations/10 + slack + runtime
	p.Detail = append(p.Detail, fmt.Sprintf("  + 10%% of activations + %s allocator slack + %s runtime", human(slack), human(runtime)))
	p.Total = p.BaseWeights + p.Adapter + p.Optimizer + p.Activations + p.Workspace
	if p.Host > 0 {
		p.Detail = append(p.Detail, fmt.Sprintf("host memory for offloaded activations and swapped blocks: %s", human(p.Host)))
	}
	return p
}

// MemoryModes are a job's host-memory settings as written:
// train.offload_activations (auto, on or off) and model.blocks_on_host
// (auto or a number of blocks).
type MemoryModes struct {
	Offload, BlocksOnHost string
}

// Fit resolves the modes for a plan input against a device budget in bytes
// (0: unknown). "auto" turns activation offload on only when the plan
// without it does not fit, then swaps as few blocks as make it fit (all of
// them when nothing does: the fit check then reports it); without a budget
// "auto" is off. Explicit settings are kept as given.
func (mm MemoryModes) Fit(in MemoryPlanInput, budget int64) (MemoryPlanInput, error) {
	nBlocks := in.Config.Depth + in.Config.DepthSingle
	autoBlocks := mm.BlocksOnHost == "" || mm.BlocksOnHost == "auto"
	if !autoBlocks {
		n, err := strconv.Atoi(mm.BlocksOnHost)
		if err != nil || n < 0 || n > nBlocks {
			return in, fmt.Errorf("model.blocks_on_host: %q must be auto or a number of blocks from 0 to the model's %d", mm.BlocksOnHost, nBlocks)
		}
		in.BlocksOnHost = n
	}
	fits := func(c MemoryPlanInput) bool { return budget > 0 && EstimateMemory(c).Total <= budget }
	switch mm.Offload {
	case "on":
		in.OffloadActivations = true
	case "off":
		in.OffloadActivations = false
	case "", "auto":
		in.OffloadActivations = false
		if budget > 0 && !fits(in) {
			in.OffloadActivations = true
		}
	default:
		return in, fmt.Errorf("train.offload_activations: %q must be auto, on or off", mm.Offload)
	}
	if autoBlocks {
		in.BlocksOnHost = 0
		if budget > 0 && !fits(in) {
			in.BlocksOnHost = nBlocks
			if n, ok := fewestBlocksOnHost(in, 1, budget); ok {
				in.BlocksOnHost = n
			}
		}
	}
	return in, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// human formats bytes as GiB/MiB.
func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d B", b)
}

// String renders the plan as a small report.
func (p MemoryPlan) String() string {
	var s strings.Builder
	for _, row := range [][2]any{{"base weights", p.BaseWeights}, {"adapter + grads", p.Adapter}, {"optimizer state", p.Optimizer},
		{"activations", p.Activations}, {"workspace", p.Workspace}, {"total", p.Total}} {
		fmt.Fprintf(&s, "  %-16s %10s\n", row[0], human(row[1].(int64)))
	}
	for _, d := range p.Detail {
		fmt.Fprintf(&s, "  - %s\n", d)
	}
	return s.String()
}

// fewestBlocksOnHost returns the smallest block-swap count from `from` up
// to all blocks with which in fits budget bytes, and whether there is one.
func fewestBlocksOnHost(in MemoryPlanInput, from int, budget int64) (int, bool) {
	for n := from; n <= in.Config.Depth+in.Config.DepthSingle; n++ {
		in.BlocksOnHost = n
		if EstimateMemory(in).Total <= budget {
			return n, true
		}
	}
	return 0, false
}

// Suggest returns changes that bring the plan under budget bytes, cheapest
// first, or nil if it already fits.
func Suggest(in MemoryPlanInput, budget int64) []string {
	if EstimateMemory(in).Total <= budget {
		return nil
	}
	var out []string
	try := func(desc string, mod func(*MemoryPlanInput)) {
		c := in
		mod(&c)
		if pl := EstimateMemory(c); pl.Total <= budget {
			out = append(out, fmt.Sprintf("%s (estimated %s)", desc, human(pl.Total)))
		}
	}
	if !in.Checkpointing {
		try("turn gradient checkpointing on (train.gradient_checkpointing: on)", func(c *MemoryPlanInput) { c.Checkpointing = true })
	}
	if !in.OffloadActivations {
		try("offload the saved activations to host memory (train.offload_activations: on)", func(c *MemoryPlanInput) { c.OffloadActivations = true })
	}
	offloaded := in
	offloaded.OffloadActivations = true
	if n, ok := fewestBlocksOnHost(offloaded, in.BlocksOnHost+1, budget); ok {
		offloaded.BlocksOnHost = n
		out = append(out, fmt.Sprintf("keep %d blocks in host memory and offload activations (model.blocks_on_host: %d, train.offload_activations: on; "+
			"each swapped block is copied to the device twice per step) (estimated %s)", n, n, human(EstimateMemory(offloaded).Total)))
	}
	for _, s := range []quant.Scheme{quant.FP8, quant.NF4} {
		if in.Quant.Scheme != s && (in.Quant.Scheme == quant.None || in.Quant.Scheme == "" || s == quant.NF4) {
			try(fmt.Sprintf("quantize the base to %s (model.quantize: %s) with checkpointing", s, s), func(c *MemoryPlanInput) {
				c.Quant.Scheme, c.Checkpointing = s, true
			})
		}
	}
	for _, r := range []int{768, 512} {
		if r < in.Resolution {
			try(fmt.Sprintf("train at %d px (dataset.resolutions: [%d]) with NF4 and checkpointing", r, r), func(c *MemoryPlanInput) {
				c.Resolution, c.Quant.Scheme, c.Checkpointing = r, quant.NF4, true
			})
		}
	}
	return out
}
