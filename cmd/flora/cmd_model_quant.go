package main

import (
	"fmt"

	"github.com/olekukonko/tablewriter"

	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/weights"
)

// quantizeReport prints, per layer group, the relative error and the sizes
// of quantizing a checkpoint's transformer weights with a scheme.
func quantizeReport(path, scheme string) error {
	s, err := quant.ParseScheme(scheme)
	if err != nil || s == quant.None {
		return usageErrorf("--quantize must be int8, fp8 or nf4")
	}
	ck, err := weights.OpenCheckpoint(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	opts := quant.Options{Scheme: s, DoubleQuant: s == quant.NF4}
	rep, err := quant.Report(ck, ck.Names(), func(n string) int64 {
		info, _ := ck.Info(n)
		return info.NumBytes()
	}, opts)
	if err != nil {
		return err
	}
	t := tablewriter.NewWriter(cliOut)
	t.Header([]string{"layer group", "tensors", "parameters", "rel. error", "worst layer", "bytes before", "bytes after"})
	var before, after int64
	for _, g := range rep {
		t.Append([]string{g.Group, fmt.Sprint(g.Layers), fmt.Sprint(g.Params), fmt.Sprintf("%.4f", g.RelError),
			fmt.Sprintf("%.4f", g.MaxRelError), humanBytes(g.BytesBefore), humanBytes(g.BytesAfter)})
		before += g.BytesBefore
		after += g.BytesAfter
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintf(cliOut, "%s: %s → %s with %s (%.1f%%)\n", path, humanBytes(before), humanBytes(after), scheme, 100*float64(after)/float64(before))
	return nil
}
