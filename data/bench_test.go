package data

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/flora-ml/flora/data/datatest"
)

// BenchmarkPixels1024 measures the preparation of one training image at
// resolution 1024 (file read, JPEG decode, crop, Lanczos resize, flip,
// float CHW), as the caches fill, on 8 photo-like 1536x1024 JPEGs. Reports
// images/s.
func BenchmarkPixels1024(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 8; i++ {
		img := image.NewNRGBA(image.Rect(0, 0, 1536, 1024))
		for y := 0; y < 1024; y++ {
			for x := 0; x < 1536; x++ {
				n := rng.IntN(24)
				img.SetNRGBA(x, y, color.NRGBA{uint8(x/8 + n + 10*i), uint8(y/6 + n), uint8(n * 5), 255})
			}
		}
		writeFilesB(b, dir, fmt.Sprintf("p%d.jpg", i), datatest.JPEG(b, img))
	}
	cfg := DefaultConfig()
	cfg.Folders = []Folder{{Path: dir, DefaultCaption: "a photo"}}
	cfg.Resolutions = []int{1024}
	cfg.Flip = true
	ds, problems, err := Scan(cfg)
	if err != nil || len(problems) > 0 || len(ds.Items) != 8 {
		b.Fatalf("scan: %v %v", err, problems)
	}
	samples, err := ds.LatentVariants()
	if err != nil || len(samples) == 0 {
		b.Fatalf("samples: %v", err)
	}
	var dst []float32
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if dst, err = ds.Pixels(samples[i%len(samples)], dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func writeFilesB(b *testing.B, dir, name string, data []byte) {
	b.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		b.Fatal(err)
	}
}
