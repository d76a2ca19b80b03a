package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/internal/rss"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"

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

// modelQuantizeCommand quantizes a transformer checkpoint tensor by tensor
// (streamed from the memory-mapped file) into Flora's quantized checkpoint
// format, so later runs load it directly; it reports time and peak host
// memory, the number that shows the whole model is never held in bf16.
func modelQuantizeCommand() *command {
	return &command{
		name:    "quantize",
		summary: "quantize a transformer checkpoint (int8, fp8, nf4) into a Flora quantized checkpoint, streamed",
		usage:   "model quantize PATH --scheme int8|fp8|nf4 (--out FILE | --dry-run) [--no-double-quant] [--keep PATTERN,...] [--backend SPEC]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			scheme := fs.String("scheme", "nf4", "int8, fp8 or nf4")
			out := fs.String("out", "", "output .safetensors file (required)")
			noDouble := fs.Bool("no-double-quant", false, "nf4: keep the block absmax values in float32")
			keep := fs.StringSlice("keep", nil, "module patterns left unquantized (default: embedders, modulation, final layer)")
			be := fs.String("backend", "go", "backend holding the quantized weights while converting (go keeps them in host memory)")
			dryRun := fs.Bool("dry-run", false, "load and quantize, report time and peak memory, write nothing")
			return func(args []string) error {
				if len(args) != 1 {
					return usageErrorf("expected one checkpoint path (official .safetensors file or diffusers folder)")
				}
				if !*dryRun && (*out == "" || !strings.HasSuffix(*out, ".safetensors")) {
					return usageErrorf("--out must name a .safetensors file (or use --dry-run)")
				}
				if !*dryRun {
					if err := fsutil.CheckOutput(*out, modelInputs(args[0])...); err != nil {
						return usageErrorf("--out %v", err)
					}
				}
				s, err := quant.ParseScheme(*scheme)
				if err != nil || s == quant.None {
					return usageErrorf("--scheme must be int8, fp8 or nf4")
				}
				b, info, err := backend.Select(*be)
				if err != nil {
					return err
				}
				fmt.Fprintln(cliErr, info)
				opts := quant.Options{Scheme: s, DoubleQuant: s == quant.NF4 && !*noDouble, Keep: *keep}
				start := time.Now()
				c, err := bundle.Load(b, bundle.Options{Path: args[0], DType: dtypes.InvalidDType, Quant: opts, SkipVAE: true, SkipText: true})
				if err != nil {
					return err
				}
				loaded := time.Since(start)
				in := checkpointBytes(args[0])
				fmt.Fprintf(cliOut, "loaded %s (FLUX.2 %s, %d parameters, %s) as %s in %s; peak host memory %s, %s resident now\n",
					args[0], c.Transformer.Variant.Name, c.Transformer.Config.NumParams(), humanBytes(in), s,
					loaded.Round(time.Millisecond), humanBytes(rss.Peak()), humanBytes(rss.Current()))
				if *dryRun {
					return nil
				}
				if err := quant.SaveCheckpoint(c.Transformer, *out, s); err != nil {
					return fmt.Errorf("writing %s: %w", *out, err)
				}
				st, err := os.Stat(*out)
				if err != nil {
					return err
				}
				fmt.Fprintf(cliOut, "wrote %s: %s → %s with %s in %s (total); peak host memory %s\n", *out,
					humanBytes(in), humanBytes(st.Size()), s, time.Since(start).Round(time.Millisecond), humanBytes(rss.Peak()))
				return nil
			}
		},
	}
}

// checkpointBytes is the tensor data size of a checkpoint (0 if unreadable).
func checkpointBytes(path string) int64 {
	ckpt, _, err := flux2.ResolveTransformerPath(path)
	if err != nil {
		return 0
	}
	ck, err := weights.OpenCheckpoint(ckpt)
	if err != nil {
		return 0
	}
	defer ck.Close()
	var n int64
	for _, name := range ck.Names() {
		if info, ok := ck.Info(name); ok {
			n += info.NumBytes()
		}
	}
	return n
}
