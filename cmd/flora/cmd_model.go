package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

func init() {
	register(&command{
		name:    "model",
		summary: "inspect model checkpoints, quantize them, write random full-size ones",
		subcommands: []*command{
			modelRandomCommand(),
			modelExportCommand(),
			modelQuantizeCommand(),
			{
				name:    "inspect",
				summary: "list the tensors of a safetensors checkpoint with totals, metadata and detected layout",
				usage:   "model inspect PATH [--json]   (PATH: a .safetensors file, a *.safetensors.index.json, or a folder)",
				setup: func(fs *pflag.FlagSet) func([]string) error {
					asJSON := fs.Bool("json", false, "print one JSON document instead of tables")
					quantize := fs.String("quantize", "", "also report the accuracy and size of quantizing the transformer: int8, fp8 or nf4")
					return func(args []string) error {
						if len(args) != 1 {
							return usageErrorf("expected one checkpoint path (a .safetensors file, a *.safetensors.index.json or a folder), got %d arguments", len(args))
						}
						if *quantize != "" {
							return quantizeReport(args[0], *quantize)
						}
						rep, err := inspectCheckpoint(args[0])
						if err != nil {
							return err
						}
						if *asJSON {
							return printJSON(cliOut, rep)
						}
						return rep.print(cliOut)
					}
				},
			},
		},
	})
}

// inspectReport is what `flora model inspect` prints (also its JSON schema).
type inspectReport struct {
	Path           string            `json:"path"`
	Files          []string          `json:"files"`
	Tensors        []inspectTensor   `json:"tensors"`
	TensorCount    int               `json:"tensor_count"`
	ParameterCount int64             `json:"parameter_count"`
	TotalBytes     int64             `json:"total_bytes"`
	HumanSize      string            `json:"human_size"`
	DTypeParams    map[string]int64  `json:"parameters_by_dtype"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Layout         inspectLayout     `json:"layout"`
	// Model describes the FLUX.2 architecture read off a transformer's shapes.
	Model *inspectModel `json:"model,omitempty"`
}

type inspectModel struct {
	Variants      []string `json:"variants"`
	Parameters    int64    `json:"parameters"`
	Hidden        int      `json:"hidden"`
	Heads         int      `json:"heads"`
	DoubleBlocks  int      `json:"double_blocks"`
	SingleBlocks  int      `json:"single_blocks"`
	ContextDim    int      `json:"context_dim"`
	GuidanceEmbed bool     `json:"guidance_embed"`
}

type inspectTensor struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Bytes int64  `json:"bytes"`
	// File is the shard holding the tensor, for multi-file checkpoints.
	File string `json:"file,omitempty"`
}

type inspectLayout struct {
	Kind        string `json:"kind"`
	Description string `json:"description"`
	Prefix      string `json:"prefix,omitempty"`
}

// inspectCheckpoint opens path and gathers the report; it reads headers only.
func inspectCheckpoint(path string) (*inspectReport, error) {
	c, err := weights.OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	files := c.Files()
	rep := &inspectReport{
		Path:        path,
		Files:       files,
		Tensors:     []inspectTensor{},
		DTypeParams: map[string]int64{},
		Metadata:    c.Metadata(),
	}
	for _, name := range c.Names() {
		info, _ := c.Info(name)
		t := inspectTensor{Name: name, DType: string(info.DType), Shape: info.Shape, Bytes: info.NumBytes()}
		if t.Shape == nil {
			t.Shape = []int{}
		}
		if len(files) > 1 {
			f, _ := c.FileOf(name)
			t.File = filepath.Base(f)
		}
		rep.Tensors = append(rep.Tensors, t)
		rep.ParameterCount += info.NumElements()
		rep.DTypeParams[t.DType] += info.NumElements()
		rep.TotalBytes += t.Bytes
	}
	rep.TensorCount = len(rep.Tensors)
	rep.HumanSize = humanBytes(rep.TotalBytes)
	l := c.Layout()
	rep.Layout = inspectLayout{Kind: l.Kind.ID(), Description: l.Description, Prefix: l.Prefix}
	if l.Kind == weights.LayoutFlux2Official || l.Kind == weights.LayoutFlux2Diffusers {
		if fl, err := flux2.DetectLayout(c.Names()); err == nil {
			if cfg, err := flux2.InferConfig(c, fl); err == nil {
				variants := flux2.MatchVariants(cfg)
				if len(variants) == 0 {
					variants = []string{"custom"}
				}
				rep.Model = &inspectModel{Variants: variants, Parameters: cfg.NumParams(), Hidden: cfg.Hidden, Heads: cfg.NumHeads,
					DoubleBlocks: cfg.Depth, SingleBlocks: cfg.DepthSingle, ContextDim: cfg.ContextDim, GuidanceEmbed: cfg.GuidanceEmbed}
			}
		}
	}
	return rep, nil
}

// print writes the report as tables.
func (r *inspectReport) print(w io.Writer) error {
	multi := len(r.Files) > 1
	header := []string{"tensor", "dtype", "shape", "bytes"}
	if multi {
		header = append(header, "file")
	}
	table := tablewriter.NewWriter(w)
	table.Header(header)
	for _, t := range r.Tensors {
		row := []string{t.Name, t.DType, formatShape(t.Shape), strconv.FormatInt(t.Bytes, 10)}
		if multi {
			row = append(row, t.File)
		}
		if err := table.Append(row); err != nil {
			return fmt.Errorf("formatting the tensor table: %w", err)
		}
	}
	if err := table.Render(); err != nil {
		return fmt.Errorf("formatting the tensor table: %w", err)
	}
	fmt.Fprintf(w, "\nPath:       %s\n", r.Path)
	if multi {
		fmt.Fprintf(w, "Files:      %d\n", len(r.Files))
	}
	fmt.Fprintf(w, "Tensors:    %d\n", r.TensorCount)
	fmt.Fprintf(w, "Parameters: %d (%s)\n", r.ParameterCount, humanCount(r.ParameterCount))
	fmt.Fprintf(w, "Size:       %d bytes (%s)\n", r.TotalBytes, r.HumanSize)
	dts := make([]string, 0, len(r.DTypeParams))
	for dt := range r.DTypeParams {
		dts = append(dts, dt)
	}
	sort.Strings(dts)
	for i, dt := range dts {
		label := "            "
		if i == 0 {
			label = "DTypes:     "
		}
		fmt.Fprintf(w, "%s%s: %d parameters\n", label, dt, r.DTypeParams[dt])
	}
	printMetadata(w, r.Metadata)
	if m := r.Model; m != nil {
		fmt.Fprintf(w, "Model:      FLUX.2 %s, %d parameters (%s): hidden %d, %d heads, %d double + %d single blocks, context %d, guidance embedder %v\n",
			strings.Join(m.Variants, " / "), m.Parameters, humanCount(m.Parameters), m.Hidden, m.Heads, m.DoubleBlocks, m.SingleBlocks, m.ContextDim, m.GuidanceEmbed)
	}
	fmt.Fprintf(w, "Layout:     %s", r.Layout.Description)
	if r.Layout.Prefix != "" {
		fmt.Fprintf(w, " (names prefixed %q)", r.Layout.Prefix)
	}
	fmt.Fprintln(w)
	return nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printMetadata lists header metadata sorted by key, values cut to one line;
// it prints nothing when there is none.
func printMetadata(w io.Writer, meta map[string]string) {
	if len(meta) == 0 {
		return
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "Metadata:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, shorten(meta[k], 100))
	}
}

func formatShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// shorten cuts s to at most n runes on one line, marking the cut.
func shorten(s string, n int) string { return fsutil.Shorten(s, n) }

// humanBytes formats a byte count with binary units, e.g. "3.6 MiB".
func humanBytes(n int64) string { return fsutil.HumanBytes(n) }

// humanCount formats a parameter count, e.g. "951.4 K", "32.2 B".
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f K", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}
