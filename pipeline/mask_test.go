package pipeline

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flora-ml/flora/data/datatest"
	"github.com/flora-ml/flora/internal/testutil"
)

// TestTrainWithMasks: the tiny demo trains with loss masks (a mask folder
// with a mask of the image's size, left half inside, for every other
// image): the losses
// are finite and differ from the unmasked run's; with mask_min 1 every
// token weighs 1, the batches carry no mask and the losses are exactly
// the unmasked ones.
func TestTrainWithMasks(t *testing.T) {
	const demo = "../examples/tiny/train.yaml"
	dir := t.TempDir()
	images, masks := filepath.Join(dir, "data"), filepath.Join(dir, "masks")
	entries, err := os.ReadDir("../examples/tiny/data")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{images, masks} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	masked := 0
	for i, e := range entries {
		b, err := os.ReadFile(filepath.Join("../examples/tiny/data", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(images, e.Name()), b)
		if strings.HasSuffix(e.Name(), ".png") && i%4 == 0 {
			c, err := png.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			mask := datatest.Split(c.Width, c.Height, color.NRGBA{255, 255, 255, 255}, color.NRGBA{0, 0, 0, 255})
			testutil.WriteFile(t, filepath.Join(masks, e.Name()), datatest.PNG(t, mask))
			masked++
		}
	}
	at := "dataset.folders.0.path=" + images
	plain, _ := trainLosses(t, demo, "3", at)
	withMasks, _ := trainLosses(t, demo, "3", at, "dataset.folders.0.masks="+masks, "dataset.mask_min=0.1")
	ones, _ := trainLosses(t, demo, "3", at, "dataset.folders.0.masks="+masks, "dataset.mask_min=1")
	t.Logf("%d of %d images masked; losses unmasked %.5f, masked (mask_min 0.1) %.5f, mask_min 1 %.5f", masked, len(entries)/2, plain, withMasks, ones)
	if len(withMasks) != 3 || slices.Equal(withMasks, plain) {
		t.Errorf("masked losses %v equal the unmasked %v", withMasks, plain)
	}
	for _, l := range withMasks {
		if math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
			t.Errorf("masked loss %v", l)
		}
	}
	if !slices.Equal(ones, plain) {
		t.Errorf("mask_min 1: losses %v, want the unmasked %v exactly", ones, plain)
	}
}
