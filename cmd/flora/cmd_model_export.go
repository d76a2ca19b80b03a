package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/backend"
	"github.com/flora-ml/flora/model/bundle"
)

// modelExportCommand writes a built-in model as files (bundle.Export), so
// other tools (diffusers, ComfyUI) and Flora's own file loaders can use it.
func modelExportCommand() *command {
	return &command{
		name:    "export",
		summary: "write a built-in model (embedded:tiny) as files: a diffusers model folder or official-layout files",
		usage:   "model export embedded:tiny --layout diffusers|official --out DIR [--overwrite]",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			layout := fs.String("layout", bundle.ExportDiffusers, "file layout: diffusers (transformer/, vae/, text_encoder/, tokenizer/, model_index.json) or official (flux2-embedded-tiny.safetensors, ae.safetensors, text_encoder/, tokenizer/)")
			out := fs.String("out", "", "output folder to create (required; an existing one must be empty)")
			overwrite := fs.Bool("overwrite", false, "replace an existing non-empty --out folder")
			be := fs.String("backend", "", "backend (default auto)")
			return func(args []string) error {
				if len(args) != 1 {
					return usageErrorf("expected one built-in model (embedded:tiny), got %d arguments", len(args))
				}
				if !bundle.IsEmbedded(args[0]) {
					return usageErrorf("%s is not a built-in model: only embedded:tiny can be exported (a model on disk already is files)", args[0])
				}
				if *layout != bundle.ExportDiffusers && *layout != bundle.ExportOfficial {
					return usageErrorf("--layout must be %s or %s, got %q", bundle.ExportDiffusers, bundle.ExportOfficial, *layout)
				}
				if *out == "" {
					return usageErrorf("--out is required")
				}
				b, info, err := backend.Select(*be)
				if err != nil {
					return err
				}
				fmt.Fprintln(cliErr, info)
				path, err := bundle.Export(b, args[0], *layout, *out, *overwrite)
				if err != nil {
					return err
				}
				fmt.Fprintf(cliOut, "wrote %s (%s layout); load it with --model %s\n", *out, *layout, path)
				return nil
			}
		},
	}
}
