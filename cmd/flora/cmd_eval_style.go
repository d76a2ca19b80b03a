package main

import (
	"encoding/json"
	"fmt"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/eval"
)

func evalStyleCmd(fs *pflag.FlagSet) func([]string) error {
	asJSON := fs.Bool("json", false, "print JSON: every image's measures and the summary")
	return func(args []string) error {
		if len(args) == 0 {
			return usageErrorf("give image files or folders of images")
		}
		files, err := eval.StyleFiles(args)
		if err != nil {
			return err
		}
		styles := make([]eval.Style, len(files))
		for i, f := range files {
			styles[i] = f.Style
		}
		sum := eval.SummariseStyles(styles)
		if *asJSON {
			enc := json.NewEncoder(cliOut)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Images  []eval.FileStyle `json:"images"`
				Summary eval.StyleStats  `json:"summary"`
			}{files, sum})
		}
		t := tablewriter.NewWriter(cliOut)
		t.Header([]string{"image", "stripe energy", "background distance", "style score"})
		for _, f := range files {
			if err := t.Append([]string{f.Path, fmt.Sprintf("%.3f", f.StripeEnergy), fmt.Sprintf("%.3f", f.BackgroundDistance), fmt.Sprintf("%.3f", f.Score)}); err != nil {
				return err
			}
		}
		if err := t.Append([]string{fmt.Sprintf("mean of %d", sum.N), fmt.Sprintf("%.3f", sum.StripeEnergy), fmt.Sprintf("%.3f", sum.BackgroundDistance),
			fmt.Sprintf("%.3f ± %.3f", sum.Mean, sum.Std)}); err != nil {
			return err
		}
		return t.Render()
	}
}
