package train

import (
	"fmt"
	"strings"

	"github.com/flora-ml/flora/model/quant"
)

// GridResolutions and GridSchemes are the rows and columns of the plan grid
// `flora train --dry-run` prints: the resolutions users train at and the base
// weight schemes Flora offers.
var (
	GridResolutions = []int{512, 768, 1024}
	GridSchemes     = []quant.Scheme{quant.None, quant.Int8, quant.FP8, quant.NF4}
)

// PlanGrid plans in at every resolution × base-weight scheme, everything
// else (adapter, optimizer, checkpointing, batch, kept layers) as in in:
// grid[i][j] is resolutions[i] with schemes[j].
func PlanGrid(in MemoryPlanInput, resolutions []int, schemes []quant.Scheme) [][]MemoryPlan {
	grid := make([][]MemoryPlan, len(resolutions))
	for i, r := range resolutions {
		grid[i] = make([]MemoryPlan, len(schemes))
		for j, s := range schemes {
			c := in
			c.Resolution = r
			c.Quant.Scheme = s
			grid[i][j] = EstimateMemory(c)
		}
	}
	return grid
}

// FormatPlanGrid renders PlanGrid's result as a Markdown table of planned
// GiB; with budget > 0 a cell that fits it is marked "✓".
func FormatPlanGrid(grid [][]MemoryPlan, resolutions []int, schemes []quant.Scheme, budget int64) string {
	var b strings.Builder
	b.WriteString("| resolution |")
	for _, s := range schemes {
		fmt.Fprintf(&b, " %s |", orNone(string(s)))
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(schemes)))
	b.WriteString("\n")
	for i, r := range resolutions {
		fmt.Fprintf(&b, "| %d² |", r)
		for j := range schemes {
			total := grid[i][j].Total
			mark := ""
			if budget > 0 && total <= budget {
				mark = " ✓"
			}
			fmt.Fprintf(&b, " %.1f GiB%s |", float64(total)/(1<<30), mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}
