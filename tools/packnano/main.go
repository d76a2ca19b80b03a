// Command packnano stores the nano model that examples/nano-base trains as
// the weights `embedded:nano` ships (model/bundle/assets/nano): the
// transformer and the autoencoder in bfloat16 (the autoencoder's latent
// BatchNorm statistics stay float32), with the metadata of the source files.
//
//	go run ./tools/packnano -transformer runs/nano-base-2/nano-base-2.safetensors \
//	    -vae runs/nano-ae/nano-ae.safetensors -out model/bundle/assets/nano
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flora-ml/flora/model/weights"
)

func main() {
	transformer := flag.String("transformer", "runs/nano-base-2/nano-base-2.safetensors", "the full-training export of examples/nano-base/transformer-2.yaml (stage 2)")
	ae := flag.String("vae", "runs/nano-ae/nano-ae.safetensors", "the export of examples/nano-base/autoencoder.yaml")
	out := flag.String("out", "model/bundle/assets/nano", "output folder")
	flag.Parse()
	for _, f := range []struct{ src, dst string }{{*transformer, "transformer.safetensors"}, {*ae, "vae.safetensors"}} {
		n, err := pack(f.src, filepath.Join(*out, f.dst))
		if err != nil {
			fmt.Fprintln(os.Stderr, "packnano:", err)
			os.Exit(1)
		}
		fmt.Printf("wrote %s (%d bytes) from %s\n", filepath.Join(*out, f.dst), n, f.src)
	}
}

// keepFloat32 reports whether a tensor stays float32: the autoencoder's
// latent BatchNorm statistics, which normalise every latent.
func keepFloat32(name string) bool { return strings.HasPrefix(name, "bn.") }

// pack rewrites src as dst with bfloat16 weights and returns dst's size.
func pack(src, dst string) (int64, error) {
	f, err := weights.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var ts []weights.TensorData
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		raw, err := f.Bytes(name)
		if err != nil {
			return 0, err
		}
		vals, err := weights.DecodeFloat32(info, raw)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", src, err)
		}
		dt := weights.BF16
		if keepFloat32(name) {
			dt = weights.F32
		}
		td, err := weights.Float32DataAs(name, dt, info.Shape, vals)
		if err != nil {
			return 0, err
		}
		ts = append(ts, td)
	}
	meta := f.Metadata()
	delete(meta, "flora.config") // the job files in examples/nano-base say how they were made
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	if err := weights.WriteFile(dst, ts, meta); err != nil {
		return 0, err
	}
	st, err := os.Stat(dst)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
