package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/data"
	"github.com/flora-ml/flora/data/cache"
	"github.com/flora-ml/flora/data/feed"
	"github.com/flora-ml/flora/internal/fsutil"
	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/flux2"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
)

// ComputeDType is the dtype a job computes in (model.dtype).
func ComputeDType(cfg *job.Config) dtypes.DType {
	if cfg.Model.DType == "f32" {
		return dtypes.Float32
	}
	return dtypes.BFloat16
}

// CacheDir is the folder of a job's latent and caption caches:
// dataset.cache_dir, else OUTPUT/cache.
func CacheDir(cfg *job.Config) string {
	if cfg.Dataset.CacheDir != "" {
		return cfg.Dataset.CacheDir
	}
	return filepath.Join(cfg.Output.Dir, "cache")
}

// scanDataset reads the job's dataset, reporting every problem; any problem
// that makes an image unusable, or an empty dataset, is an error.
func scanDataset(cfg *job.Config, rep Reporter) (*data.Dataset, error) {
	ds, problems, err := data.Scan(DatasetConfig(cfg.Dataset))
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		rep.printf("%s", p)
	}
	if err := problems.Err(); err != nil {
		return nil, fmt.Errorf("dataset: %w (fix or remove the files; `flora data check` lists them)", err)
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("dataset: no usable images in %d folder(s)", len(cfg.Dataset.Folders))
	}
	return ds, nil
}

// loadEncoders loads a job's autoencoder and text encoder, and its
// transformer only where the checkpoint holds all three at once (the
// embedded model): caches are filled and the text encoder released before
// loadTransformer, so the two never share memory (Mistral Small 3.1 alone
// is 48 GB in bf16).
func loadEncoders(cfg *job.Config, be backends.Backend) (*bundle.Components, error) {
	q, err := QuantOptions(cfg)
	if err != nil {
		return nil, err
	}
	return bundle.Load(be, bundle.Options{Path: cfg.Model.Path, VAE: cfg.Model.VAE, TextEncoder: cfg.Model.TextEncoder,
		Variant: cfg.Model.Variant, DType: ComputeDType(cfg), Quant: q, TextQuant: quant.Scheme(cfg.Model.TextEncoderQuantize),
		SkipTransformer: true, SkipText: cfg.Dataset.Embeddings != ""})
}

// textContexts is where a job's captions and prompts get their text
// context: the table of dataset.embeddings when set, else the text encoder.
func textContexts(cfg *job.Config, comps *bundle.Components) (textenc.Contexts, error) {
	if cfg.Dataset.Embeddings == "" {
		return comps.Text, nil
	}
	t, err := textenc.OpenTable(cfg.Dataset.Embeddings, comps.Variant.Config.ContextDim)
	if err != nil {
		return nil, fmt.Errorf("dataset.embeddings: %w", err)
	}
	return t, nil
}

// loadTransformer loads the job's transformer into comps (once the text
// encoder is released), unless loadEncoders already did.
func loadTransformer(cfg *job.Config, be backends.Backend, comps *bundle.Components) (*flux2.Model, error) {
	if comps.Transformer != nil {
		return comps.Transformer, nil
	}
	q, err := QuantOptions(cfg)
	if err != nil {
		return nil, err
	}
	tc, err := bundle.Load(be, bundle.Options{Path: cfg.Model.Path, Variant: cfg.Model.Variant, DType: ComputeDType(cfg), Quant: q,
		SkipVAE: true, SkipText: true})
	if err != nil {
		return nil, err
	}
	comps.Transformer = tc.Transformer
	return comps.Transformer, nil
}

// cachedData is a dataset whose latents and caption embeddings are in its
// cache, with the identities of the encoders that filled it.
type cachedData struct {
	ds               *data.Dataset
	store            *cache.Store
	dir              string
	latentID, textID string
	latents, text    cache.BuildStats
	// pixelsPerLatent is the VAE's image pixels per latent token along a
	// side (loss masks are averaged over them; 0 when unknown: 16).
	pixelsPerLatent int
}

// feedOptions are the options of a feed over the cached data.
func (c *cachedData) feedOptions() feed.Options {
	return feed.Options{LatentIdentity: c.latentID, TextIdentity: c.textID, PixelsPerLatent: c.pixelsPerLatent}
}

// fillCaches encodes what the job's cache lacks: VAE latents of every image
// and text embeddings of every caption. The text encoder stays loaded (the
// caller releases it).
func fillCaches(cfg *job.Config, ds *data.Dataset, comps *bundle.Components, contexts textenc.Contexts, rep Reporter) (*cachedData, error) {
	c := &cachedData{ds: ds, dir: CacheDir(cfg)}
	var err error
	if c.store, err = cache.Open(c.dir, cache.Options{}); err != nil {
		return nil, err
	}
	lat := &vaeLatents{v: comps.VAE, id: comps.VAEID}
	text := &promptEmbeddings{c: contexts}
	if c.latents, err = cache.BuildLatents(c.store, ds, lat, cache.BuildOptions{BatchSize: 4, Progress: rep.progress("latents")}); err != nil {
		return nil, err
	}
	if c.text, err = cache.BuildText(c.store, ds, text, cache.BuildOptions{BatchSize: 8, Progress: rep.progress("captions")}); err != nil {
		return nil, err
	}
	c.latentID, c.textID = lat.Identity(), text.Identity()
	if comps.VAE != nil {
		c.pixelsPerLatent, _ = comps.VAE.Config.PixelsPerLatent()
	}
	return c, nil
}

// loadedJob is a job's dataset with its caches filled and its model
// loaded, the text encoder released.
type loadedJob struct {
	comps *bundle.Components
	// text gave the captions their context (released).
	text   textenc.Contexts
	cached *cachedData
	// model is the transformer (nil when not asked for).
	model *flux2.Model
}

// loadJob runs the sequence every job shares: scan the dataset, load the
// autoencoder and text encoder, fill the caches, call beforeRelease (which
// may still encode prompts; nil: nothing), release the text encoder, and
// load the transformer when asked — after the release, so the text encoder
// and the transformer never share memory.
func loadJob(cfg *job.Config, be backends.Backend, rep Reporter, beforeRelease func(*bundle.Components, textenc.Contexts) error, transformer bool) (*loadedJob, error) {
	ds, err := scanDataset(cfg, rep)
	if err != nil {
		return nil, err
	}
	if err := ds.WriteBucketTable(rep.log()); err != nil {
		return nil, err
	}
	comps, err := loadEncoders(cfg, be)
	if err != nil {
		return nil, err
	}
	text, err := textContexts(cfg, comps)
	if err != nil {
		return nil, err
	}
	if comps.Text != nil {
		rep.printf("text encoder: %s (%s)", text.Name(), fsutil.HumanBytes(int64(comps.Text.Encoder.MemoryBytes())))
	} else {
		rep.printf("text: %s (no text encoder loaded)", text.Name())
	}
	cached, err := fillCaches(cfg, ds, comps, text, rep)
	if err != nil {
		return nil, err
	}
	rep.printf("latent cache: %s", cached.latents)
	rep.printf("text cache: %s", cached.text)
	if beforeRelease != nil {
		if err := beforeRelease(comps, text); err != nil {
			return nil, err
		}
	}
	if freed := text.Release(); comps.Text != nil {
		rep.printf("text encoder released (%s freed)", fsutil.HumanBytes(int64(freed)))
	}
	l := &loadedJob{comps: comps, text: text, cached: cached}
	if transformer {
		if l.model, err = loadTransformer(cfg, be, comps); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// CacheResult says what FillCaches did.
type CacheResult struct {
	// Dir is the cache folder.
	Dir string
	// Latents and Captions count what was encoded and what was found.
	Latents, Captions cache.BuildStats
}

// FillCaches encodes a job's images (VAE latents) and captions (text
// embeddings) into its cache ahead of training, e.g. on a machine where
// the text encoder fits. backendSpec overrides model.backend when not "".
func FillCaches(cfg *job.Config, backendSpec string, rep Reporter) (*CacheResult, error) {
	be, _, err := selectBackend(cfg, backendSpec, rep)
	if err != nil {
		return nil, err
	}
	l, err := loadJob(cfg, be, rep, nil, false)
	if err != nil {
		return nil, err
	}
	return &CacheResult{Dir: l.cached.dir, Latents: l.cached.latents, Captions: l.cached.text}, nil
}
