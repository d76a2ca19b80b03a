package pipeline

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/model/bundle"
	"github.com/flora-ml/flora/model/quant"
	"github.com/flora-ml/flora/model/textenc"
)

// EmbeddingsResult says what WriteEmbeddings wrote.
type EmbeddingsResult struct {
	// Path is the table written.
	Path string
	// Prompts are its rows, in order.
	Prompts []string
}

// WriteEmbeddings encodes every text a job needs — each caption as trained
// (trigger applied; the empty caption when caption dropout is on), the
// preview prompts and the negative prompt — with the job's text encoder
// and writes them to out as an embedding table (textenc.Table), for
// dataset.embeddings of jobs on machines or models without that encoder.
// backendSpec overrides model.backend when not "".
func WriteEmbeddings(cfg *job.Config, out, backendSpec string, rep Reporter) (*EmbeddingsResult, error) {
	if cfg.Dataset.Embeddings != "" {
		return nil, fmt.Errorf("the job reads its embeddings from %s (dataset.embeddings); remove that key to encode with the text encoder", cfg.Dataset.Embeddings)
	}
	be, _, err := selectBackend(cfg, backendSpec, rep)
	if err != nil {
		return nil, err
	}
	ds, err := scanDataset(cfg, rep)
	if err != nil {
		return nil, err
	}
	comps, err := bundle.Load(be, bundle.Options{Path: cfg.Model.Path, TextEncoder: cfg.Model.TextEncoder, Variant: cfg.Model.Variant,
		DType: ComputeDType(cfg), TextQuant: quant.Scheme(cfg.Model.TextEncoderQuantize), SkipVAE: true, SkipTransformer: true})
	if err != nil {
		return nil, err
	}
	defer comps.Text.Release()
	prompts := ds.CaptionVariants()
	for _, p := range append(slices.Clone(cfg.Sample.Prompts), cfg.Sample.Negative) {
		if !slices.Contains(prompts, p) {
			prompts = append(prompts, p)
		}
	}
	ctx, err := encodeAll(comps.Text, prompts, rep.progress("prompts"))
	if err != nil {
		return nil, err
	}
	if err := textenc.WriteTable(out, prompts, ctx, nil); err != nil {
		return nil, err
	}
	return &EmbeddingsResult{Path: out, Prompts: prompts}, nil
}

// encodeAll encodes prompts in batches of 8 into one [len(prompts), L, D]
// tensor, reporting progress.
func encodeAll(text textenc.Contexts, prompts []string, progress func(done, total int)) (*tensors.Tensor, error) {
	var flat []float32
	var dims []int
	for lo := 0; lo < len(prompts); lo += 8 {
		batch := prompts[lo:min(lo+8, len(prompts))]
		e, err := text.Encode(batch)
		if err != nil {
			return nil, fmt.Errorf("encoding %q: %w", batch[0], err)
		}
		dims = e.Shape().Dimensions
		tensors.ConstFlatData(e, func(v []float32) { flat = append(flat, v...) })
		progress(lo+len(batch), len(prompts))
	}
	return tensors.FromFlatDataAndDimensions(flat, len(prompts), dims[1], dims[2]), nil
}
