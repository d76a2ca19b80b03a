package train

import (
	"strings"
	"testing"

	"github.com/flora-ml/flora/model/quant"
)

// TestPlanGrid: every cell is the plan of that resolution and scheme, the
// table shows each in GiB, and ✓ marks exactly the cells within the budget.
func TestPlanGrid(t *testing.T) {
	in := planFor(t, "dev", quant.NF4, 1024, true)
	res, schemes := []int{512, 1024}, []quant.Scheme{quant.None, quant.NF4}
	const budget = 26 << 30
	off := MemoryModes{Offload: "off", BlocksOnHost: "0"}
	grid, err := PlanGrid(in, off, budget, res, schemes)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		for j, s := range schemes {
			c := in
			c.Resolution, c.Quant.Scheme = r, s
			if want := EstimateMemory(c).Total; grid[i][j].Plan.Total != want {
				t.Errorf("%d² %s: grid %d bytes, plan %d", r, s, grid[i][j].Plan.Total, want)
			}
		}
	}
	// dev with everything on the device: bf16 (64 GB of weights) never
	// fits 26 GiB; NF4 at 512² does and at 1024² does not.
	if grid[0][0].Plan.Total <= budget || grid[0][1].Plan.Total > budget || grid[1][1].Plan.Total <= budget {
		t.Fatalf("unexpected dev plans: %v", grid)
	}
	table := FormatPlanGrid(grid, res, schemes, budget)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || lines[0] != "| resolution | none | nf4 |" {
		t.Fatalf("table:\n%s", table)
	}
	if strings.Count(table, "✓") != 1 || !strings.Contains(lines[2], "✓") || !strings.HasPrefix(lines[2], "| 512² |") {
		t.Errorf("fit marks wrong:\n%s", table)
	}
	if strings.Contains(FormatPlanGrid(grid, res, schemes, 0), "✓") {
		t.Error("no budget, yet cells marked")
	}
	// On auto, each cell moves what it needs: NF4 at 1024² offloads its
	// activations and fits; bf16 fits by swapping most of its blocks.
	auto, err := PlanGrid(in, MemoryModes{Offload: "auto", BlocksOnHost: "auto"}, budget, res, schemes)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		for j, s := range schemes {
			want, _ := MemoryModes{Offload: "auto", BlocksOnHost: "auto"}.Fit(grid[i][j].Input, budget)
			if auto[i][j].Input.MemoryOptions() != want.MemoryOptions() || auto[i][j].Plan.Total != EstimateMemory(want).Total {
				t.Errorf("%d² %s on auto: %+v, want %+v", r, s, auto[i][j].Input.MemoryOptions(), want.MemoryOptions())
			}
		}
	}
	table = FormatPlanGrid(auto, res, schemes, budget)
	if !strings.Contains(table, "GiB ✓ (offload) |") || !strings.Contains(table, "GiB ✓ (offload, swap ") {
		t.Errorf("auto table does not say what moves:\n%s", table)
	}
}
