package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
)

// parseLoRASpec splits FILE[:scale] (the scale is the part after the last
// colon when it parses as a number).
func parseLoRASpec(spec string) (string, float64, error) {
	if i := strings.LastIndexByte(spec, ':'); i > 0 {
		if s, err := strconv.ParseFloat(spec[i+1:], 64); err == nil {
			return spec[:i], s, nil
		}
	}
	if spec == "" {
		return "", 0, fmt.Errorf("empty --lora value")
	}
	return spec, 1, nil
}

// attachLoRAs applies FILE[:scale] adapters to the model, unmerged, each
// with its own scale, printing any warnings.
func attachLoRAs(m *flux2.Model, specs []string) error {
	for _, spec := range specs {
		path, scale, err := parseLoRASpec(spec)
		if err != nil {
			return usageErrorf("%v", err)
		}
		a, format, warnings, err := lora.Load(path, &m.Config)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintf(cliErr, "warning: %s: %s\n", path, w)
		}
		if err := lora.Attach(m, a, scale, false); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(cliErr, "lora %s (%s, %d layers) at scale %g\n", path, format, len(a.Layers), scale)
	}
	return nil
}
