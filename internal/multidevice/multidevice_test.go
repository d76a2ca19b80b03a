package multidevice

import (
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads better unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/tensorrand"
	"github.com/flora-ml/flora/internal/testutil"
)

// Tiny LoRA-like MLP: out = tanh(x·W1 + x·A·B)·W2, loss = mean((out−y)²)
// over a batch of 8; W1 and W2 frozen, A and B trainable.
const (
	batchSize, inDim, hidden, outDim, rank = 8, 8, 16, 4, 2
	tol                                    = 1e-5
)

func mlpLoss(batch, trainable, frozen []*Node) *Node {
	x, y := batch[0], batch[1]
	a, b := trainable[0], trainable[1]
	w1, w2 := frozen[0], frozen[1]
	h := Tanh(Add(Dot(x, w1), Dot(Dot(x, a), b)))
	d := Sub(Dot(h, w2), y)
	return ReduceAllMean(Mul(d, d))
}

type mlpData struct{ batch, trainable, frozen []*tensors.Tensor }

func newMLPData() mlpData {
	rng := rand.New(rand.NewPCG(18, 1))
	return mlpData{
		batch:     []*tensors.Tensor{tensorrand.Normal(rng, batchSize, inDim), tensorrand.Normal(rng, batchSize, outDim)},
		trainable: []*tensors.Tensor{tensorrand.Normal(rng, inDim, rank), tensorrand.Normal(rng, rank, hidden)},
		frozen:    []*tensors.Tensor{tensorrand.Normal(rng, inDim, hidden), tensorrand.Normal(rng, hidden, outDim)},
	}
}

var (
	virtualOnce sync.Once
	virtual     backends.Backend
	virtualErr  error
)

// multiDeviceBackend returns the test backend when it has n devices, else
// (FLORA_TEST_BACKEND=xla:cpu) an XLA CPU backend with n virtual devices;
// it skips the test on other backends with fewer devices (the pure-Go one
// has one).
func multiDeviceBackend(t *testing.T, n int) backends.Backend {
	t.Helper()
	b := testutil.Backend(t)
	_, err := NewMesh(b, n)
	if err == nil {
		return b
	}
	if os.Getenv(testutil.BackendEnv) != "xla:cpu" {
		t.Skipf("needs %d devices (FLORA_TEST_BACKEND=xla:cpu provides virtual ones): %v", n, err)
	}
	virtualOnce.Do(func() { virtual, virtualErr = backend.VirtualCPU(4) })
	if virtualErr != nil {
		t.Fatal(virtualErr)
	}
	return virtual
}

func run(t *testing.T, b backends.Backend, devices int, s Strategy, layout Layout, d mlpData) *Result {
	t.Helper()
	p, err := NewProgram(b, devices, s, layout, mlpLoss)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(d.batch, d.trainable, d.frozen)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkEquivalent runs the layout on 1, 2 and 4 devices with both
// strategies and compares the loss and gradients with the one-device ones.
func checkEquivalent(t *testing.T, layout Layout) {
	b := multiDeviceBackend(t, 4)
	d := newMLPData()
	want := run(t, b, 1, AutoSharding, Layout{Batch: 2, Trainable: 2, FrozenSplit: []int{Replicated, Replicated}}, d)
	if want.Loss <= 0.1 || math.IsNaN(float64(want.Loss)) {
		t.Fatalf("one-device loss %v: want a positive finite value well away from 0", want.Loss)
	}
	for i, g := range want.Grads {
		if n := norm(g); n < 1e-3 {
			t.Fatalf("one-device gradient #%d has norm %g: the comparison would be vacuous", i, n)
		}
	}
	for _, s := range []Strategy{AutoSharding, SPMD} {
		for _, n := range []int{2, 4} {
			got := run(t, b, n, s, layout, d)
			what := s.String() + "/" + string(rune('0'+n))
			if e := math.Abs(float64(got.Loss-want.Loss)) / float64(want.Loss); e > tol {
				t.Errorf("%s loss %v, one device %v (rel %.3g)", what, got.Loss, want.Loss, e)
			}
			testutil.CheckRelL2Tensors(t, what+" dA", got.Grads[0], want.Grads[0], tol)
			testutil.CheckRelL2Tensors(t, what+" dB", got.Grads[1], want.Grads[1], tol)
		}
	}
}

func norm(t *tensors.Tensor) float64 {
	var s float64
	for _, v := range tensors.MustCopyFlatData[float32](t) {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// TestDataParallelMatchesSingleDevice: the batch split over 2 and 4
// devices, weights replicated, gives the one-device loss and gradients.
func TestDataParallelMatchesSingleDevice(t *testing.T) {
	checkEquivalent(t, Layout{Batch: 2, Trainable: 2, FrozenSplit: []int{Replicated, Replicated}})
}

// TestShardedFrozenWeight: W1 split on its input axis (rows) and W2 on its
// output axis (columns), each device holding 1/N, gathered in the program.
func TestShardedFrozenWeight(t *testing.T) {
	layout := Layout{Batch: 2, Trainable: 2, FrozenSplit: []int{0, 1}}
	checkEquivalent(t, layout)

	// Placed once, each device holds a quarter of each weight (PJRT's own
	// buffer size), and two steps reuse the shards.
	b := multiDeviceBackend(t, 4)
	d := newMLPData()
	want := run(t, b, 1, AutoSharding, layout, d)
	for _, s := range []Strategy{AutoSharding, SPMD} {
		p, err := NewProgram(b, 4, s, layout, mlpLoss)
		if err != nil {
			t.Fatal(err)
		}
		placed, err := p.PlaceFrozen(d.frozen)
		if err != nil {
			t.Fatal(err)
		}
		for i, dt := range placed {
			whole := int(d.frozen[i].Memory())
			for dev, shard := range dt.Shards() {
				if got := deviceBytes(t, b, shard, dev); got != whole/4 {
					t.Errorf("%s: frozen #%d shard on device %d holds %d bytes, want %d (1/4 of %d)", s, i, dev, got, whole/4, whole)
				}
			}
		}
		for step := 0; step < 2; step++ {
			got, err := p.RunPlaced(d.batch, d.trainable, placed)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CheckRelL2Tensors(t, s.String()+" placed dA", got.Grads[0], want.Grads[0], tol)
			testutil.CheckRelL2Tensors(t, s.String()+" placed dB", got.Grads[1], want.Grads[1], tol)
		}
	}
}

// deviceBytes is the size PJRT reports for the buffer of t, which must be
// on device dev only.
func deviceBytes(t *testing.T, b backends.Backend, shard *tensors.Tensor, dev int) int {
	t.Helper()
	got, err := shard.Device()
	if err != nil || int(got) != dev {
		t.Fatalf("shard for device %d is on device %d (%v)", dev, got, err)
	}
	buf, err := shard.Buffer(b, backends.DeviceNum(dev))
	if err != nil {
		t.Fatal(err)
	}
	pb, ok := buf.(*pjrt.Buffer)
	if !ok {
		t.Fatalf("buffer %T is not a PJRT buffer", buf)
	}
	n, err := pb.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDevicesSeeTheirOwnSlice: the SPMD per-device loss, before the
// AllReduce, differs between devices (each has its own slice of the batch)
// and averages to the global loss.
func TestDevicesSeeTheirOwnSlice(t *testing.T) {
	b := multiDeviceBackend(t, 4)
	d := newMLPData()
	layout := Layout{Batch: 2, Trainable: 2, FrozenSplit: []int{Replicated, Replicated}}
	want := run(t, b, 1, AutoSharding, layout, d)
	mesh, err := NewMesh(b, 4)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExec(b, func(in []*Node) *Node {
		return mlpLoss(in[:2], in[2:4], in[4:])
	})
	if err != nil {
		t.Fatal(err)
	}
	exec.SPMD(mesh)
	p := &Program{mesh: mesh, devices: 4, layout: layout}
	args, err := p.place(d.batch, d.trainable)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range d.frozen {
		dt, err := p.shard("frozen", w, Replicated)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, dt)
	}
	anyArgs := make([]any, len(args))
	for i, a := range args {
		anyArgs[i] = a
	}
	outs, err := exec.Exec(anyArgs...)
	if err != nil {
		t.Fatal(err)
	}
	var mean float64
	seen := map[float32]bool{}
	for dev, o := range outs {
		l := tensors.ToScalar[float32](o)
		t.Logf("device %d local loss %v", dev, l)
		seen[l] = true
		mean += float64(l) / 4
	}
	if len(seen) != 4 {
		t.Errorf("the 4 devices' local losses are not all different: %v", seen)
	}
	if e := math.Abs(mean-float64(want.Loss)) / float64(want.Loss); e > tol {
		t.Errorf("mean of local losses %v, global loss %v (rel %.3g)", mean, want.Loss, e)
	}
}
