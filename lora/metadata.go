package lora

import (
	"maps"
	"strconv"
	"strings"

	"github.com/flora-ml/flora/model/flux2"
)

// contentHashKeys fingerprint a file's tensor bytes (kohya's sshs_* hashes,
// modelspec's): a rewrite changes the bytes, so they are no longer true.
var contentHashKeys = []string{"sshs_model_hash", "sshs_legacy_hash", "modelspec.hash_sha256"}

// CarryMetadata returns the header of a file rewritten from another whose
// header is src (lora convert and resize, the checkpoint lora merge writes):
// every key of src is kept — what it says about how the source was made
// stays true — except the fingerprints of its tensor bytes, and the keys of
// changed, which say what the rewrite changed: a non-empty value replaces
// src's (src's spelling stays when both are the same number, "8.0" and "8"),
// an empty one removes the key. Nothing else is added; src is not modified.
func CarryMetadata(src, changed map[string]string) map[string]string {
	md := maps.Clone(src)
	if md == nil {
		md = map[string]string{}
	}
	for _, k := range contentHashKeys {
		delete(md, k)
	}
	for k, v := range changed {
		old, had := md[k]
		switch {
		case v == "":
			delete(md, k)
		case had && sameNumber(old, v):
		default:
			md[k] = v
		}
	}
	return md
}

// sameNumber reports whether two strings spell the same number.
func sameNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	return err1 == nil && err2 == nil && x == y
}

// RewriteMeta is the Meta for writing again an adapter that Load read from
// path in format from (lora convert, resize): the file's header is carried
// over (Save updates only what the rewrite changes, see Meta.Source), its
// factors keep their dtype, and the base variant its header names gives the
// layer widths when the adapter fits it (headers can be wrong; else the
// widths come from the adapter's own shapes).
func RewriteMeta(path string, a *Adapter, from Format) (Meta, error) {
	dt, err := FactorDType(path)
	if err != nil {
		return Meta{}, err
	}
	src := a.Metadata
	if src == nil {
		src = map[string]string{}
	}
	v := headerVariant(src)
	if v.Name != "" && a.Validate(v.Config) != nil {
		v = flux2.Variant{}
	}
	return Meta{Variant: v, DType: dt, Source: src, SourceFormat: from}, nil
}

// headerVariant is the published variant a header names (flora.base_variant,
// else the first with its ss_base_model_version), or the zero Variant.
func headerVariant(md map[string]string) flux2.Variant {
	name := md["flora.base_variant"]
	if name == "" {
		for _, v := range flux2.Variants {
			if tag := md["ss_base_model_version"]; tag != "" && v.ArchTag == tag {
				name = v.Name
				break
			}
		}
	}
	v, err := flux2.VariantByName(name)
	if err != nil {
		return flux2.Variant{}
	}
	return v
}

// carriedHeader is the header of an adapter rewritten from a file
// (meta.Source): the source's keys, with the keys describing the stored
// tensors (storage) updated, "format" kept when the naming is unchanged (a
// file's own tag, e.g. Black Forest Labs' "comfy-bfl") and else "pt", and
// the plain "rank"/"alpha" keys some files carry updated when present. No
// training fact (steps, trigger, base, comment) is added.
func carriedHeader(meta Meta, format Format, storage map[string]string, rank int, alpha float64) map[string]string {
	changed := maps.Clone(storage)
	if v := meta.Source["format"]; v != "" && meta.SourceFormat == format {
		changed["format"] = v
	}
	if _, ok := meta.Source["rank"]; ok {
		changed["rank"] = strconv.Itoa(rank)
	}
	if _, ok := meta.Source["alpha"]; ok {
		changed["alpha"] = strconv.FormatFloat(alpha, 'g', -1, 64)
	}
	return CarryMetadata(meta.Source, changed)
}
