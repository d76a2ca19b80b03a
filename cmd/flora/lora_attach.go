package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/pipeline"
)

// loraScaleRange bounds the scale of FILE:SCALE adapter values: negative
// scales (subtracting a concept) are allowed, but beyond ±10 an adapter only
// destroys the image.
var loraScaleRange = job.FloatRange{Min: -10, Max: 10, Hint: "1 applies the adapter as trained"}

// loraSpec is one parsed FILE[:SCALE] adapter value.
type loraSpec = pipeline.LoRA

// parseLoRASpec parses FILE[:SCALE]: the scale is the part after the last
// colon and must be a finite number in loraScaleRange (a value that names an
// existing file as a whole is that file at scale 1, for file names with a
// colon). flag names the flag in messages ("--lora").
func parseLoRASpec(flag, spec string) (loraSpec, error) {
	i := strings.LastIndexByte(spec, ':')
	if spec == "" {
		return loraSpec{}, fmt.Errorf("%s needs a value: FILE or FILE:SCALE", flag)
	}
	if i < 0 {
		return loraSpec{Path: spec, Scale: 1}, nil
	}
	if _, err := os.Stat(spec); err == nil {
		return loraSpec{Path: spec, Scale: 1}, nil
	}
	path, scaleText := spec[:i], spec[i+1:]
	switch {
	case path == "":
		return loraSpec{}, fmt.Errorf("%s %s: no file before the scale; write FILE:SCALE, e.g. style.safetensors:0.8", flag, spec)
	case strings.HasSuffix(path, ":"):
		return loraSpec{}, fmt.Errorf("%s %s: two colons; write FILE:SCALE, e.g. %s:0.8", flag, spec, strings.TrimRight(path, ":"))
	case scaleText == "":
		return loraSpec{}, fmt.Errorf("%s %s: the scale after ':' is empty; write FILE:SCALE, e.g. %s:0.8, or just %s", flag, spec, path, path)
	}
	scale, err := parseFloatIn(scaleText, loraScaleRange)
	if err != nil {
		return loraSpec{}, fmt.Errorf("%s %s: the scale %v", flag, spec, err)
	}
	return loraSpec{Path: path, Scale: scale}, nil
}

// parseLoRASpecs parses every FILE[:SCALE] value of a flag and checks that
// each file exists, before any model is loaded. Problems are usage errors.
func parseLoRASpecs(flag string, specs []string) ([]loraSpec, error) {
	out := make([]loraSpec, 0, len(specs))
	for _, s := range specs {
		spec, err := parseLoRASpec(flag, s)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		if st, err := os.Stat(spec.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, usageErrorf("%s %s: adapter file %s does not exist", flag, s, spec.Path)
		} else if err != nil {
			return nil, usageErrorf("%s %s: %v", flag, s, err)
		} else if st.IsDir() {
			return nil, usageErrorf("%s %s: %s is a folder; give the adapter's .safetensors file", flag, s, spec.Path)
		}
		out = append(out, spec)
	}
	return out, nil
}
