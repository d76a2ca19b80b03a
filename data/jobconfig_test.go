package data

import (
	"reflect"
	"testing"

	"github.com/flora-ml/flora/job"
)

// Every field of job.DatasetConfig (except CacheDir, used by the cache) is
// carried over, and the job defaults give a valid Config equal to ours.
func TestFromJob(t *testing.T) {
	d := job.DatasetConfig{
		Folders:        []job.DatasetFolder{{Path: "a", Repeats: 3, DefaultCaption: "x"}, {Path: "b"}},
		Trigger:        "ohwx",
		DefaultCaption: "d",
		CaptionDropout: 0.1,
		ShuffleTags:    true,
		KeepTokens:     2,
		Resolutions:    []int{512, 1024},
		MinSide:        128,
		Crop:           "random",
		Flip:           true,
		Background:     "#102030",
		CacheDir:       "cache",
	}
	got := FromJob(d)
	want := DefaultConfig()
	want.Folders = []Folder{{Path: "a", Repeats: 3, DefaultCaption: "x"}, {Path: "b"}}
	want.Trigger, want.DefaultCaption, want.CaptionDropout = "ohwx", "d", 0.1
	want.ShuffleTags, want.KeepTokens, want.Resolutions, want.MinSide = true, 2, []int{512, 1024}, 128
	want.Crop, want.Flip, want.Background = CropRandom, true, "#102030"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromJob:\n got %+v\nwant %+v", got, want)
	}
	if n := reflect.TypeOf(job.DatasetConfig{}).NumField(); n != 12 {
		t.Errorf("job.DatasetConfig has %d fields; update FromJob (and this count) for the new ones", n)
	}
	def := job.Default().Dataset
	def.Folders = []job.DatasetFolder{{Path: "p"}}
	c := FromJob(def)
	if err := c.Validate(); err != nil {
		t.Errorf("job defaults: %v", err)
	}
	base := DefaultConfig()
	base.Folders = []Folder{{Path: "p"}}
	if !reflect.DeepEqual(c, base) {
		t.Errorf("job defaults differ from data defaults:\n job %+v\ndata %+v", c, base)
	}
}
