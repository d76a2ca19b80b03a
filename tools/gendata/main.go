// Command gendata writes Flora's bundled example datasets (see package
// data/synth): PNG images and same-stem .txt captions, and with -edit the
// recolouring pairs of the tiny-edit demo, whose reference images go to a
// parallel control folder, and with -base the plain (unstyled) shapes that
// pretrain the nano base model, and with -holdout the held-out validation
// images of the tiny demo (synth.StyleHoldout: one per held-out prompt).
//
//	go run ./tools/gendata -out examples/tiny/data
//	go run ./tools/gendata -base -count 3000 -out data/base   # 64×64 unless -size
//	go run ./tools/gendata -edit -out examples/tiny-edit/data   # references in examples/tiny-edit/control
//	go run ./tools/gendata -holdout -out examples/tiny/holdout
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flora-ml/flora/data/synth"
)

func main() {
	out := flag.String("out", "", "output folder (default examples/tiny/data, with -edit examples/tiny-edit/data)")
	edit := flag.Bool("edit", false, "write the edit pairs: targets and captions to -out, references to -control")
	base := flag.Bool("base", false, "write the base-pretraining set (plain shapes, no style) to -out (required)")
	size := flag.Int("size", 0, "with -base: image side in pixels (default 64)")
	control := flag.String("control", "", "with -edit: the reference folder (default: control/ next to -out)")
	count := flag.Int("count", 0, "number of images or pairs (default 24)")
	seed := flag.Uint64("seed", synth.DefaultOptions().Seed, "placement seed")
	holdout := flag.Bool("holdout", false, "write the held-out validation images of the tiny demo to -out (default examples/tiny/holdout)")
	flag.Parse()
	var err error
	if *holdout {
		err = runHoldout(*edit || *base || *control != "" || *count != 0 || *size != 0, *out)
	} else if *base {
		err = runBase(*edit, *out, *control, *count, *seed, *size)
	} else if *size != 0 {
		err = fmt.Errorf("-size needs -base")
	} else {
		err = run(*edit, *out, *control, *count, *seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

// run writes the requested set; empty out/control and a zero count take the
// defaults.
func run(edit bool, out, control string, count int, seed uint64) error {
	if !edit {
		if control != "" {
			return fmt.Errorf("-control needs -edit")
		}
		if out == "" {
			out = "examples/tiny/data"
		}
		opts := synth.Options{Count: count, Seed: seed}
		if count == 0 {
			opts.Count = synth.DefaultOptions().Count
		}
		n, err := synth.WriteDir(out, opts)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %d images with captions to %s\n", n, out)
		return nil
	}
	if out == "" {
		out = "examples/tiny-edit/data"
	}
	if control == "" {
		control = filepath.Join(filepath.Dir(filepath.Clean(out)), "control")
	}
	opts := synth.EditOptions{Count: count, Seed: seed}
	if count == 0 {
		opts.Count = synth.DefaultEditOptions().Count
	}
	n, err := synth.WriteEdits(out, control, opts)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d edit targets with captions to %s and their references to %s\n", n, out, control)
	return nil
}

// runBase writes the base-pretraining set; a zero count and size take the
// defaults.
func runBase(edit bool, out, control string, count int, seed uint64, size int) error {
	switch {
	case edit:
		return fmt.Errorf("-base and -edit are different sets; give one")
	case control != "":
		return fmt.Errorf("-control needs -edit")
	case out == "":
		return fmt.Errorf("-base needs -out DIR (e.g. -out data/base; the set is large, keep it out of the repository)")
	}
	opts := synth.DefaultBaseOptions()
	opts.Seed = seed
	if count != 0 {
		opts.Count = count
	}
	if size != 0 {
		opts.Size = size
	}
	n, err := synth.WriteBaseDir(out, opts)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d base images (%d×%d) with captions to %s\n", n, opts.Size, opts.Size, out)
	return nil
}

// runHoldout writes the held-out validation set (fixed: no other flag
// applies).
func runHoldout(otherFlags bool, out string) error {
	if otherFlags {
		return fmt.Errorf("-holdout is the fixed held-out set (synth.StyleHoldout); give only -out")
	}
	if out == "" {
		out = "examples/tiny/holdout"
	}
	n, err := synth.WriteHoldoutDir(out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d held-out images with captions to %s\n", n, out)
	return nil
}
