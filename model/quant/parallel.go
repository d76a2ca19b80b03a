package quant

import (
	"runtime"
	"sync"
)

// parallelGrain is the least work (in values) worth a goroutine.
const parallelGrain = 1 << 16

// parallelFor splits [0, n) items of cost per values each into contiguous
// chunks and runs fn on them concurrently, one goroutine per CPU. Chunks
// write disjoint outputs, so results do not depend on the schedule.
func parallelFor(n, cost int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if maxByWork := n * max(cost, 1) / parallelGrain; maxByWork < workers {
		workers = max(maxByWork, 1)
	}
	if workers <= 1 || n < 2 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(n, lo+chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
