// Command gendata writes Flora's bundled example dataset (see package
// data/synth): PNG images and same-stem .txt captions.
//
//	go run ./tools/gendata -out examples/tiny/data
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/flora-ml/flora/data/synth"
)

func main() {
	out := flag.String("out", "examples/tiny/data", "output folder")
	count := flag.Int("count", synth.DefaultOptions().Count, "number of images")
	seed := flag.Uint64("seed", synth.DefaultOptions().Seed, "placement seed")
	flag.Parse()
	n, err := synth.WriteDir(*out, synth.Options{Count: *count, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d images with captions to %s\n", n, *out)
}
