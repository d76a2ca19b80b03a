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

// PlanCell is one cell of the plan grid: the input as planned (with the
// host-memory modes resolved for that cell) and its plan.
type PlanCell struct {
	Input MemoryPlanInput
	Plan  MemoryPlan
}

// PlanGrid plans in at every resolution × base-weight scheme, everything
// else (adapter, optimizer, checkpointing, batch, kept layers) as in in,
// each cell's host-memory modes resolved against budget (see
// MemoryModes.Fit): grid[i][j] is resolutions[i] with schemes[j].
func PlanGrid(in MemoryPlanInput, modes MemoryModes, budget int64, resolutions []int, schemes []quant.Scheme) ([][]PlanCell, error) {
	grid := make([][]PlanCell, len(resolutions))
	for i, r := range resolutions {
		grid[i] = make([]PlanCell, len(schemes))
		for j, s := range schemes {
			c := in
			c.Resolution = r
			c.Quant.Scheme = s
			c, err := modes.Fit(c, budget)
			if err != nil {
				return nil, err
			}
			grid[i][j] = PlanCell{Input: c, Plan: EstimateMemory(c)}
		}
	}
	return grid, nil
}

// FormatPlanGrid renders PlanGrid's result as a Markdown table of planned
// GiB; with budget > 0 a cell that fits it is marked "✓", and a cell that
// moves activations or blocks to host memory says so.
func FormatPlanGrid(grid [][]PlanCell, resolutions []int, schemes []quant.Scheme, budget int64) string {
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
			cell := grid[i][j]
			mark := ""
			if budget > 0 && cell.Plan.Total <= budget {
				mark = " ✓"
			}
			var moved []string
			if cell.Input.OffloadActivations {
				moved = append(moved, "offload")
			}
			if n := cell.Input.BlocksOnHost; n > 0 {
				moved = append(moved, fmt.Sprintf("swap %d", n))
			}
			if len(moved) > 0 {
				mark += " (" + strings.Join(moved, ", ") + ")"
			}
			fmt.Fprintf(&b, " %.1f GiB%s |", float64(cell.Plan.Total)/(1<<30), mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}
