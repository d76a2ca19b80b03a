package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/job"
)

func init() {
	register(&command{
		name:    "data",
		summary: "check training image folders",
		subcommands: []*command{
			dataCacheCommand(),
			dataEmbedCommand(),
			{
				name:    "check",
				summary: "scan image folders: sizes, buckets, captions and every problem file",
				usage:   "data check DIR [DIR...] [--control CONTROL_DIR...] [--masks MASK_DIR...] [--mask-from-alpha] [--resolution 512,768,1024] [--min-side 256] [--trigger WORD] [--allow-errors] [--json]",
				setup:   setupDataCheck,
			},
		},
	})
}

// dataCheckReport is the --json output of `flora data check`.
type dataCheckReport struct {
	Items   []data.Item        `json:"items"`
	Buckets []dataBucketReport `json:"buckets"`
	// References summarises each folder with reference images (a control
	// folder or metadata.jsonl references).
	References []data.FolderReferences `json:"references"`
	// Masks summarises each folder with loss masks (a mask folder, or
	// every folder with --mask-from-alpha).
	Masks    []data.FolderMasks `json:"masks"`
	Problems data.Problems      `json:"problems"`
	Summary  dataCheckSummary   `json:"summary"`
}

type dataBucketReport struct {
	Resolution int `json:"resolution"`
	Width      int `json:"width"`
	Height     int `json:"height"`
	Images     int `json:"images"`
	Samples    int `json:"samples_per_epoch"`
}

type dataCheckSummary struct {
	Usable          int `json:"usable_images"`
	SamplesPerEpoch int `json:"samples_per_epoch"`
	Errors          int `json:"errors"`
	Warnings        int `json:"warnings"`
}

func setupDataCheck(fs *pflag.FlagSet) func([]string) error {
	def := data.DefaultConfig()
	resolutions := fs.IntSlice("resolution", def.Resolutions, "training resolutions (repeatable or comma-separated)")
	minSide := fs.Int("min-side", def.MinSide, "skip images whose shorter side is below this many pixels")
	trigger := fs.String("trigger", "", "trigger word (reports {trigger} placeholders when empty)")
	defaultCaption := fs.String("default-caption", "", "caption for images without one")
	var maxAspect, maxUpscale float64
	floatFlag(fs, &maxAspect, "max-aspect", def.MaxAspect, job.FloatRange{Min: 1, Max: 16}, "largest bucket aspect ratio (long side / short side), 1 to 16")
	floatFlag(fs, &maxUpscale, "max-upscale", def.MaxUpscale, job.FloatRange{Min: 1, Max: 16}, "use a resolution for an image only if it needs at most this much upscaling, 1 to 16")
	masks := fs.StringArray("masks", nil, "the folder of loss masks of each DIR, in order (give it once per DIR): MASKS/a.* is the mask of DIR/a.png, white trains, black is outside")
	maskFromAlpha := fs.Bool("mask-from-alpha", false, "use an image's alpha channel as its loss mask when it has transparent pixels and no mask file")
	controls := fs.StringArray("control", nil, "the folder of reference (control) images of each DIR, in order (give it once per DIR): CONTROL/a.*, CONTROL/a_0.*, a_1.* or CONTROL/a/ are the references of DIR/a.png")
	allowErrors := fs.Bool("allow-errors", false, "exit 0 even when some files are unreadable")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(args []string) error {
		if len(args) == 0 {
			return usageErrorf("expected at least one image folder")
		}
		if len(*controls) > 0 && len(*controls) != len(args) {
			return usageErrorf("%d --control folder(s) for %d image folder(s); give one --control per folder, in the same order", len(*controls), len(args))
		}
		if len(*masks) > 0 && len(*masks) != len(args) {
			return usageErrorf("%d --masks folder(s) for %d image folder(s); give one --masks per folder, in the same order", len(*masks), len(args))
		}
		cfg := def
		cfg.Folders = nil
		cfg.MaskFromAlpha = *maskFromAlpha
		for i, a := range args {
			f := data.Folder{Path: a}
			if len(*controls) > 0 {
				f.Control = (*controls)[i]
			}
			if len(*masks) > 0 {
				f.Masks = (*masks)[i]
			}
			cfg.Folders = append(cfg.Folders, f)
		}
		cfg.Resolutions, cfg.MinSide, cfg.MaxAspect, cfg.MaxUpscale = *resolutions, *minSide, maxAspect, maxUpscale
		cfg.Trigger, cfg.DefaultCaption = *trigger, *defaultCaption
		ds, problems, err := data.Scan(cfg)
		if err != nil {
			return err
		}
		errs := problems.Count(data.Error)
		if *asJSON {
			err = writeDataCheckJSON(cliOut, ds, problems)
		} else {
			err = writeDataCheckText(cliOut, ds, problems)
		}
		if err != nil {
			return err
		}
		if len(ds.Items) == 0 {
			return &exitError{code: 1, msg: noImagesMessage(args, problems)}
		}
		if errs > 0 && !*allowErrors {
			return &exitError{code: 1, msg: fmt.Sprintf("%d file(s) cannot be used; fix or remove them (or pass --allow-errors)", errs)}
		}
		return nil
	}
}

// noImagesMessage says why a check found no usable image (--allow-errors
// does not make that a success: there is nothing to train on).
func noImagesMessage(folders []string, problems data.Problems) string {
	empty := 0
	for _, p := range problems {
		if p.Kind == data.ProblemNoImages {
			empty++
		}
	}
	if empty == len(folders) {
		return "no images found in " + strings.Join(folders, ", ")
	}
	return fmt.Sprintf("no usable images in %s; fix the problems listed above", strings.Join(folders, ", "))
}

func writeDataCheckText(w io.Writer, ds *data.Dataset, problems data.Problems) error {
	if len(ds.Items) > 0 {
		fmt.Fprintln(w, "Images:")
		if err := ds.WriteItemTable(w); err != nil {
			return err
		}
		fmt.Fprintln(w, "\nBuckets:")
		if err := ds.WriteBucketTable(w); err != nil {
			return err
		}
	}
	if len(ds.References) > 0 {
		fmt.Fprintln(w, "\nReferences:")
		if err := ds.WriteReferenceTable(w); err != nil {
			return err
		}
	} else if len(ds.Items) == 0 {
		fmt.Fprintln(w, "No usable images.")
	}
	if len(ds.Masks) > 0 {
		fmt.Fprintln(w, "\nMasks:")
		if err := ds.WriteMaskTable(w); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "\nProblems (%d):\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	fmt.Fprintf(w, "\nSummary: %d usable image(s), %d sample(s) per epoch, %d error(s), %d warning(s).\n",
		len(ds.Items), ds.SamplesPerEpoch(), problems.Count(data.Error), problems.Count(data.Warning))
	return nil
}

func writeDataCheckJSON(w io.Writer, ds *data.Dataset, problems data.Problems) error {
	r := dataCheckReport{
		Items:    ds.Items,
		Buckets:  []dataBucketReport{},
		Problems: problems,
		Summary: dataCheckSummary{
			Usable: len(ds.Items), SamplesPerEpoch: ds.SamplesPerEpoch(),
			Errors: problems.Count(data.Error), Warnings: problems.Count(data.Warning),
		},
	}
	if r.Items == nil {
		r.Items = []data.Item{}
	}
	if r.Problems == nil {
		r.Problems = data.Problems{}
	}
	r.References = ds.References
	if r.References == nil {
		r.References = []data.FolderReferences{}
	}
	r.Masks = ds.Masks
	if r.Masks == nil {
		r.Masks = []data.FolderMasks{}
	}
	for _, b := range ds.Buckets() {
		r.Buckets = append(r.Buckets, dataBucketReport{Resolution: b.Resolution, Width: b.Bucket.Width, Height: b.Bucket.Height, Images: b.Images, Samples: b.Samples})
	}
	return printJSON(w, r)
}
