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
	// Optimizer, when set, is the run's optimizer: its state size
	// (OptimizerConfig.StateBytesPerParam) replaces AdamW's (8 bytes per
	// parameter, 2 with EightBitAdam).
	Optimizer *OptimizerConfig
	// Resolution is the image side (square); TextTokens the context length.
	Resolution, TextTokens, Batch int
	// ReferenceImages is the number of reference (control) images each
	// sample carries, each planned at the training resolution: their
	// tokens join the image tokens in every block.
	ReferenceImages int
	Checkpointing   bool
	// OffloadActivations and BlocksOnHost are the step's host-memory
	// options (flux2.MemoryOptions); either implies checkpointing.
	OffloadActivations bool
	BlocksOnHost       int
	// Device describes the device the plan is for; the zero value is a GPU.
	Device PlanDevice
	// Devices is the number of devices the step is split over
	// (flux2.ParallelOptions; 0 or 1: one). The plan is then for one of
	// them: its share of the batch, its share of the base, and the adapter,
	// its gradients and the optimizer state whole (replicated).
	Devices int
	// ShardBase splits the frozen base weights over the devices on their
	// first axis (see flux2.ShardsOnFirstAxis); only with Devices > 1.
	ShardBase bool
	// FullTraining trains every base weight (adapter.type full; Targets is
	// empty): their gradients and optimizer state join the base weights,
	// which are counted once, at ComputeBytes (float32 for full training).
	FullTraining bool
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

// Parallel returns the multi-device options the input plans for.
func (in MemoryPlanInput) Parallel() flux2.ParallelOptions {
	return flux2.ParallelOptions{Devices: in.Devices, ShardBase: in.ShardBase}
}

// devices is the number of devices the step runs on (at least 1).
func (in MemoryPlanInput) devices() int { return max(in.Devices, 1) }

// sharded reports whether the base is split over several devices.
func (in MemoryPlanInput) sharded() bool { return in.ShardBase && in.devices() > 1 }

// perDevice is the suffix of the plan's detail lines on several devices
// ("" on one).
func (in MemoryPlanInput) perDevice() string {
	if in.devices() < 2 {
		return ""
	}
	base := "replicated"
	if in.sharded() {
		base = "sharded"
	}
	return fmt.Sprintf(" per device (%d devices, base %s)", in.devices(), base)
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

// storedPart is one tensor a base weight is stored as: its bytes and its
// dimensions (what decides whether it splits over devices).
type storedPart struct {
	bytes int64
	dims  []int
}

// storedParts returns the tensors a base weight is stored as: quantized per
// the scheme (codes and scales, as quant.QuantizeParts makes them), or one
// tensor of compute-dtype floats.
func (in MemoryPlanInput) storedParts(name string, dims []int, cb int64) (parts []storedPart, quantized bool) {
	n := numel(dims)
	if !in.Quant.Quantizes(name, dims) {
		return []storedPart{{n * cb, dims}}, false
	}
	switch in.Quant.Scheme {
	case quant.Int8, quant.FP8:
		return []storedPart{{n, dims}, {4 * int64(dims[0]), dims[:1]}}, true
	case quant.NF4:
		scales := (n + quant.NF4Block - 1) / quant.NF4Block
		packed := storedPart{n / 2, []int{dims[0], dims[1] / 2}}
		if in.Quant.DoubleQuant { // int8 codes, float32 scales, offset
			groups := (scales + quant.DoubleQuantBlock - 1) / quant.DoubleQuantBlock
			return []storedPart{packed, {scales, []int{int(scales)}}, {4 * groups, []int{int(groups)}}, {4, nil}}, true
		}
		return []storedPart{packed, {4 * scales, []int{int(scales)}}}, true
	}
	return []storedPart{{n * cb, dims}}, false
}

// storedBytes returns the bytes a base weight takes as stored on one device
// and whether it is quantized: its stored tensors whole, or with a sharded
// base, 1/Devices of each that splits on its first axis. whole is the
// bytes of the tensors that stay whole on every device.
func (in MemoryPlanInput) storedBytes(name string, dims []int, cb int64) (bytes, whole int64, quantized bool) {
	parts, quantized := in.storedParts(name, dims, cb)
	n := in.devices()
	for _, p := range parts {
		if in.sharded() && flux2.ShardsOnFirstAxis(p.dims, n) {
			bytes += p.bytes / int64(n)
		} else {
			bytes += p.bytes
			whole += p.bytes
		}
	}
	return bytes, whole, quantized
}

// numel is the number of values of a tensor of dimensions dims.
func numel(dims []int) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}

// EstimateMemory estimates the device memory of a LoRA training step. On
// several devices (in.Devices > 1) it is one device's: the activations of
// ceil(Batch/Devices) samples, the adapter, its gradients and the optimizer
// state whole, the base whole or, with in.ShardBase, 1/Devices of each
// stored tensor that flux2.ShardsOnFirstAxis splits plus the all-gathered
// copy of one block's weights.
func EstimateMemory(in MemoryPlanInput) MemoryPlan {
	var p MemoryPlan
	cb := int64(in.ComputeBytes)
	if cb == 0 {
		cb = 2
	}
	in.planBaseWeights(&p, cb)
	in.planAdapter(&p)
	in.planActivations(&p, cb)
	in.planWorkspace(&p, cb)
	p.Total = p.BaseWeights + p.Adapter + p.Optimizer + p.Activations + p.Workspace
	if p.Host > 0 {
		p.Detail = append(p.Detail, fmt.Sprintf("host memory for offloaded activations and swapped blocks: %s", human(p.Host)))
	}
	return p
}

// planBaseWeights counts the base weights on the device (block swap moves some to the host).
func (in MemoryPlanInput) planBaseWeights(p *MemoryPlan, cb int64) {
	c := in.Config
	// Base weights, and those of the blocks block swap keeps on the host.
	hostBlocks := c.HostBlockPrefixes(in.BlocksOnHost)
	perHostBlock := map[string]int64{}
	var quantized, plain, whole int64
	for name, dims := range c.ParamShapes() {
		b, w, q := in.storedBytes(name, dims, cb)
		whole += w
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
	p.Detail = append(p.Detail, fmt.Sprintf("base weights: %s quantized (%s) + %s in %d-byte floats%s",
		human(quantized), orNone(string(in.Quant.Scheme)), human(plain), cb, in.perDevice()))
	if in.sharded() {
		rest := "every stored tensor splits"
		if whole > 0 {
			rest = human(whole) + " of tensors that do not stay whole"
		}
		p.Detail = append(p.Detail, fmt.Sprintf("  each stored tensor whose first axis divides by %d holds 1/%d of it here; %s", in.devices(), in.devices(), rest))
	}
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
}

// planAdapter counts the adapter (float32 weights and gradients) and its optimizer state.
func (in MemoryPlanInput) planAdapter(p *MemoryPlan) {
	// Adapter: float32 weights + float32 gradients.
	var loraParams int64
	for _, t := range in.Targets {
		loraParams += int64(t.Rank) * int64(t.In+t.Out)
	}
	p.Adapter = 8 * loraParams
	what := "adapter"
	if in.FullTraining { // the weights themselves are BaseWeights
		loraParams, what = in.Config.NumParams(), "full training"
		p.Adapter = 4 * loraParams
	}
	opt, optName := int64(8), "AdamW"
	if in.EightBitAdam {
		opt = 2
	}
	if in.Optimizer != nil {
		opt, optName = in.Optimizer.StateBytesPerParam(), optimizerTitle(in.Optimizer.name())
	}
	p.Optimizer = opt*loraParams + loraParams/16
	replicated := ""
	if in.devices() > 1 {
		replicated = ", whole on every device (replicated)"
	}
	p.Detail = append(p.Detail, fmt.Sprintf("%s: %d params (float32 weights + grads), %s state %d bytes/param%s", what, loraParams, optName, opt, replicated))
}

// planActivations counts the activations one device keeps for the backward pass.
func (in MemoryPlanInput) planActivations(p *MemoryPlan, cb int64) {
	c := in.Config
	// Activations.
	n := int64(in.Resolution/16) * int64(in.Resolution/16) * int64(1+in.ReferenceImages)
	t := n + int64(in.TextTokens)
	// Each device runs ceil(Batch/Devices) samples.
	n1 := int64(in.devices())
	b := (int64(max(1, in.Batch)) + n1 - 1) / n1
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
		p.Detail = append(p.Detail, fmt.Sprintf("activations: %d block inputs of %s%s + one block's activations (%s) + one attention query block (%d rows: %s)%s",
			inputs, human(boundary), where, human(max(double, single)), rows, human(attnBlock), in.batchNote(b)))
	} else {
		p.Activations = int64(c.Depth)*double + int64(c.DepthSingle)*single + attnBlock
		p.Detail = append(p.Detail, fmt.Sprintf("activations: all %d blocks kept (%s each) + one attention query block (%d rows: %s)%s",
			c.Depth+c.DepthSingle, human(single), rows, human(attnBlock), in.batchNote(b)))
	}
}

// planWorkspace counts the working memory beyond weights and activations.
func (in MemoryPlanInput) planWorkspace(p *MemoryPlan, cb int64) {
	c := in.Config
	// Workspace. Weights in compute dtype: with a quantized base, XLA
	// dequantizes each weight of a block once per program and keeps it for
	// the backward pass (measured on XLA CPU: the dev-width double block's
	// backward program held all of its dequantized weights), so the largest
	// block's dequantized weights, plus one weight's transposed copy for the
	// backward products; unquantized weights need copies of the largest
	// only. Then compiler temporaries (~10% of activations), the
	// allocator's slack on CPUs, and the runtime's fixed memory.
	//
	// With a sharded base, XLA all-gathers a split weight where it is used.
	// The plan assumes the gathered copies of one block exist at a time, in
	// compute dtype (dequantized): the largest block's weights that split,
	// whole, on top of the above.
	var largest int64
	dequant := map[string]int64{}
	gathered := map[string]int64{}
	for name, dims := range c.ParamShapes() {
		if blk := flux2.BlockOf(name); blk != "" && in.sharded() && flux2.ShardsOnFirstAxis(dims, in.devices()) {
			gathered[blk] += numel(dims) * cb
		}
		if len(dims) != 2 {
			continue
		}
		n := int64(dims[0]) * int64(dims[1]) * cb
		largest = max(largest, n)
		if _, _, q := in.storedBytes(name, dims, cb); q {
			dequant[flux2.BlockOf(name)] += n
		}
	}
	var blockDequant, gather int64
	for _, b := range dequant {
		blockDequant = max(blockDequant, b)
	}
	for _, b := range gathered {
		gather = max(gather, b)
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
	if gather > 0 {
		p.Workspace += gather
		p.Detail = append(p.Detail, fmt.Sprintf("  + all-gather of the sharded base: the largest block's weights whole, dequantized to compute dtype (%s; assumes one block's gathered copy at a time)", human(gather)))
	}
	p.Workspace += p.Activations/10 + slack + runtime
	p.Detail = append(p.Detail, fmt.Sprintf("  + 10%% of activations + %s allocator slack + %s runtime%s", human(slack), human(runtime), in.perDevice()))
	if in.ReferenceImages > 0 {
		p.Detail = append(p.Detail, fmt.Sprintf("image tokens include %d reference image(s) per sample at %d² (%d tokens each)", in.ReferenceImages, in.Resolution, (in.Resolution/16)*(in.Resolution/16)))
	}
}

// batchNote says, on several devices, how much of the batch the plan's
// activations are for ("" on one).
func (in MemoryPlanInput) batchNote(perDevice int64) string {
	if in.devices() < 2 {
		return ""
	}
	return fmt.Sprintf(" for %d of a batch of %d%s", perDevice, max(1, in.Batch), in.perDevice())
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
//
// On several devices (in.Devices > 1) the step neither offloads
// activations nor swaps blocks (its programs run on a mesh): "auto" leaves
// both off whatever the budget, and asking for either is an error. Fit
// never turns gradient checkpointing on (in.Checkpointing is kept as given).
func (mm MemoryModes) Fit(in MemoryPlanInput, budget int64) (MemoryPlanInput, error) {
	nBlocks := in.Config.Depth + in.Config.DepthSingle
	multi := in.devices() > 1
	autoBlocks := mm.BlocksOnHost == "" || mm.BlocksOnHost == "auto"
	if !autoBlocks {
		n, err := strconv.Atoi(mm.BlocksOnHost)
		if err != nil || n < 0 || n > nBlocks {
			return in, fmt.Errorf("model.blocks_on_host: %q must be auto or a number of blocks from 0 to the model's %d", mm.BlocksOnHost, nBlocks)
		}
		if multi && n > 0 {
			return in, fmt.Errorf("model.blocks_on_host: %d blocks on the host do not combine with %d devices (set 0 or auto)", n, in.devices())
		}
		in.BlocksOnHost = n
	}
	fits := func(c MemoryPlanInput) bool { return budget > 0 && EstimateMemory(c).Total <= budget }
	switch mm.Offload {
	case "on":
		if multi {
			return in, fmt.Errorf("train.offload_activations: on does not combine with %d devices (set off or auto)", in.devices())
		}
		in.OffloadActivations = true
	case "off":
		in.OffloadActivations = false
	case "", "auto":
		in.OffloadActivations = false
		if budget > 0 && !multi && !fits(in) {
			in.OffloadActivations = true
		}
	default:
		return in, fmt.Errorf("train.offload_activations: %q must be auto, on or off", mm.Offload)
	}
	if autoBlocks {
		in.BlocksOnHost = 0
		if budget > 0 && !multi && !fits(in) {
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

// MaxSuggestedDevices is the most devices Suggest proposes.
const MaxSuggestedDevices = 8

// Suggest returns changes that bring the plan under budget bytes, cheapest
// first, or nil if it already fits.
//
// On several devices (in.Devices > 1) it proposes nothing the step refuses
// there (activation offload, block swap): instead gradient checkpointing,
// sharding the base (when it is not), quantizing or a lower resolution,
// and the fewest devices up to MaxSuggestedDevices that split the batch
// evenly and fit.
func Suggest(in MemoryPlanInput, budget int64) []string {
	if in.devices() > 1 {
		return suggestParallel(in, budget)
	}
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

// suggestParallel is Suggest on several devices.
func suggestParallel(in MemoryPlanInput, budget int64) []string {
	if EstimateMemory(in).Total <= budget {
		return nil
	}
	var out []string
	try := func(desc string, mod func(*MemoryPlanInput)) bool {
		c := in
		mod(&c)
		if pl := EstimateMemory(c); pl.Total <= budget {
			out = append(out, fmt.Sprintf("%s (estimated %s per device)", desc, human(pl.Total)))
			return true
		}
		return false
	}
	ckptFits := false
	if !in.Checkpointing {
		ckptFits = try("turn gradient checkpointing on (train.gradient_checkpointing: on)", func(c *MemoryPlanInput) { c.Checkpointing = true })
	}
	if !in.ShardBase {
		try("shard the base (train.shard_base: true)", func(c *MemoryPlanInput) { c.ShardBase = true })
		if !in.Checkpointing && !ckptFits {
			try("shard the base with gradient checkpointing (train.shard_base: true, train.gradient_checkpointing: on)", func(c *MemoryPlanInput) {
				c.ShardBase, c.Checkpointing = true, true
			})
		}
	}
	if n, shard, ok := fewestDevices(in, budget); ok {
		keys := []string{fmt.Sprintf("train.devices: %d", n)}
		what := fmt.Sprintf("use more devices (%d)", n)
		if shard && !in.ShardBase {
			what += ", sharding the base"
			keys = append(keys, "train.shard_base: true")
		}
		batch := splitBatch(in.Batch, n)
		if batch != max(1, in.Batch) {
			what += fmt.Sprintf(", with a batch of %d to split over them", batch)
			keys = append(keys, fmt.Sprintf("train.batch_size: %d", batch))
		}
		try(fmt.Sprintf("%s (%s)", what, strings.Join(keys, ", ")), func(c *MemoryPlanInput) { c.Devices, c.ShardBase, c.Batch = n, shard, batch })
	}
	for _, s := range []quant.Scheme{quant.FP8, quant.NF4} {
		if in.Quant.Scheme != s && (in.Quant.Scheme == quant.None || in.Quant.Scheme == "" || s == quant.NF4) {
			try(fmt.Sprintf("quantize the base to %s (model.quantize: %s)", s, s), func(c *MemoryPlanInput) { c.Quant.Scheme = s })
		}
	}
	for _, r := range []int{768, 512} {
		if r < in.Resolution {
			try(fmt.Sprintf("train at %d px (dataset.resolutions: [%d]) with NF4", r, r), func(c *MemoryPlanInput) {
				c.Resolution, c.Quant.Scheme = r, quant.NF4
			})
		}
	}
	return out
}

// fewestDevices returns the smallest device count above in's, up to
// MaxSuggestedDevices, with which in fits budget bytes: with the base
// sharded as in says, or else sharded (shard reports which); ok is false
// when there is none. The batch is rounded up to split over the devices
// (as the step needs), which leaves each device's share as planned.
func fewestDevices(in MemoryPlanInput, budget int64) (n int, shard, ok bool) {
	for n := in.devices() + 1; n <= MaxSuggestedDevices; n++ {
		for _, shard := range []bool{in.ShardBase, true} {
			c := in
			c.Devices, c.ShardBase, c.Batch = n, shard, splitBatch(in.Batch, n)
			if EstimateMemory(c).Total <= budget {
				return n, shard, true
			}
		}
	}
	return 0, false, false
}

// splitBatch is the smallest batch of at least batch (and 1) samples that
// splits evenly over n devices.
func splitBatch(batch, n int) int {
	batch = max(batch, 1)
	return (batch + n - 1) / n * n
}

// optimizerTitle is an optimizer's name as plans print it.
func optimizerTitle(name string) string {
	switch name {
	case OptimizerProdigy:
		return "Prodigy"
	case OptimizerAdafactor:
		return "Adafactor"
	}
	return "AdamW"
}
