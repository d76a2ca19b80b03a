package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/weights"
)

// modelRandomCommand writes random FLUX.2 checkpoints of any published size,
// for speed and memory measurements where real weights cannot be had.
func modelRandomCommand() *command {
	return &command{
		name:    "random",
		summary: "write a FLUX.2 transformer checkpoint with random weights (official layout), streamed",
		usage:   "model random --variant dev|klein-4b|klein-9b|tiny --out FILE [--dtype bf16|f32] [--seed N]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			variant := fs.String("variant", "tiny", "FLUX.2 variant whose shapes to use")
			out := fs.String("out", "", "output .safetensors file (required)")
			dtype := fs.String("dtype", "bf16", "stored dtype: bf16 or f32")
			seed := fs.Uint64("seed", 1, "random seed")
			return func(args []string) error {
				if len(args) != 0 {
					return usageErrorf("unexpected arguments %q", args)
				}
				if *out == "" {
					return usageErrorf("--out is required")
				}
				v, err := flux2.VariantByName(*variant)
				if err != nil {
					return usageErrorf("%v", err)
				}
				dt := weights.BF16
				switch *dtype {
				case "bf16":
				case "f32":
					dt = weights.F32
				default:
					return usageErrorf("--dtype must be bf16 or f32, got %q", *dtype)
				}
				start := time.Now()
				last := time.Now()
				err = flux2.WriteRandomCheckpoint(*out, v.Config, *seed, dt, func(done, total int64) {
					if time.Since(last) > 5*time.Second {
						last = time.Now()
						fmt.Fprintf(cliErr, "  %s / %s (%.0f%%)\n", humanBytes(done), humanBytes(total), 100*float64(done)/float64(total))
					}
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cliOut, "wrote %s: FLUX.2 %s shapes, %d parameters, %s, in %s\n", *out, v.Name, v.Config.NumParams(),
					*dtype, time.Since(start).Round(time.Millisecond))
				return nil
			}
		},
	}
}
