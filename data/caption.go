package data

import (
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// triggerPlaceholders are replaced by the trigger word in captions.
var triggerPlaceholders = []string{"{trigger}", "[trigger]"}

func hasPlaceholder(s string) bool {
	for _, p := range triggerPlaceholders {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// CaptionRules turn a stored caption into the text a sample trains on.
type CaptionRules struct {
	Trigger     string
	Dropout     float64
	ShuffleTags bool
	KeepTokens  int
}

// CaptionRules returns the caption rules of the config.
func (c *Config) CaptionRules() CaptionRules {
	return CaptionRules{Trigger: c.Trigger, Dropout: c.CaptionDropout, ShuffleTags: c.ShuffleTags, KeepTokens: c.KeepTokens}
}

// CaptionRulesOf returns the caption rules of an item: the config's, without
// the trigger word for a regularisation folder's images.
func (d *Dataset) CaptionRulesOf(it *Item) CaptionRules {
	r := d.Config.CaptionRules()
	if it.Folder < len(d.Config.Folders) && d.Config.Folders[it.Folder].Regularization {
		r.Trigger = ""
	}
	return r
}

// WithTrigger applies the trigger word alone (no randomness): placeholders
// are replaced by it; a caption that does not contain it as a word gets it
// prepended ("trigger, caption"); an empty caption becomes the trigger.
func (r CaptionRules) WithTrigger(caption string) string {
	if hasPlaceholder(caption) {
		for _, p := range triggerPlaceholders {
			caption = strings.ReplaceAll(caption, p, r.Trigger)
		}
		return tidy(caption)
	}
	if r.Trigger == "" || containsWord(caption, r.Trigger) {
		return caption
	}
	if caption == "" {
		return r.Trigger
	}
	return r.Trigger + ", " + caption
}

// Apply returns the caption a sample trains on: the empty caption with
// probability Dropout; otherwise WithTrigger, then (ShuffleTags) the
// comma-separated tags after the first KeepTokens shuffled. rng makes it
// deterministic; Apply draws from it the same number of times whatever the
// outcome, so later draws do not depend on the caption.
func (r CaptionRules) Apply(caption string, rng *rand.Rand) string {
	drop := rng.Float64() < r.Dropout
	shuffleSeed := rng.Uint64()
	if drop {
		return ""
	}
	caption = r.WithTrigger(caption)
	if !r.ShuffleTags || !strings.Contains(caption, ",") {
		return caption
	}
	return shuffleTags(caption, r.KeepTokens, rand.New(rand.NewPCG(shuffleSeed, 0x7a95)))
}

// shuffleTags splits on commas, keeps the first keep tags in place and
// shuffles the rest; empty tags are dropped.
func shuffleTags(caption string, keep int, rng *rand.Rand) string {
	var tags []string
	for _, t := range strings.Split(caption, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	if keep < len(tags) {
		rest := tags[keep:]
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	}
	return strings.Join(tags, ", ")
}

// containsWord reports whether word occurs in s delimited by non-word
// characters (case-insensitive), so "flora" is found in "a flora style"
// but not in "floral".
func containsWord(s, word string) bool {
	if word == "" {
		return true
	}
	ls, lw := strings.ToLower(s), strings.ToLower(word)
	for from := 0; from <= len(ls); {
		j := strings.Index(ls[from:], lw)
		if j < 0 {
			return false
		}
		start, end := from+j, from+j+len(lw)
		before, _ := utf8.DecodeLastRuneInString(ls[:start])
		after, _ := utf8.DecodeRuneInString(ls[end:])
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		from = start + 1
	}
	return false
}

// isWordRune reports whether r is a letter, digit or underscore.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// tidy collapses whitespace and removes spaces before commas and doubled
// commas left by an empty placeholder replacement.
func tidy(s string) string {
	s = normalizeCaption(s)
	s = strings.ReplaceAll(s, " ,", ",")
	for strings.Contains(s, ",,") {
		s = strings.ReplaceAll(s, ",,", ",")
	}
	return strings.Trim(strings.TrimSpace(s), ", ")
}
