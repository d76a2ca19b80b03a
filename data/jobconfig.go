package data

import "github.com/flora-ml/flora/job"

// FromJob converts the dataset section of a job config into a Config: the
// job's fields map one to one; settings the job does not have keep their
// DefaultConfig values. Folder paths are used as given (job.Load resolves
// them).
func FromJob(d job.DatasetConfig) Config {
	c := DefaultConfig()
	for _, f := range d.Folders {
		c.Folders = append(c.Folders, Folder{Path: f.Path, Repeats: f.Repeats, DefaultCaption: f.DefaultCaption})
	}
	c.Trigger = d.Trigger
	c.DefaultCaption = d.DefaultCaption
	c.CaptionDropout = d.CaptionDropout
	c.ShuffleTags = d.ShuffleTags
	c.KeepTokens = d.KeepTokens
	c.Resolutions = append([]int(nil), d.Resolutions...)
	c.MinSide = d.MinSide
	c.Crop = CropMode(d.Crop)
	c.Flip = d.Flip
	c.Background = d.Background
	return c
}
