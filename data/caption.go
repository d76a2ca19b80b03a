package data

import (
	"math/rand/v2"
	"regexp"
	"strings"
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

// containsWord reports whether word occurs in s delimited by non-letters
// (case-insensitive), so "flora" is found in "a flora style" but not in
// "floral".
func containsWord(s, word string) bool {
	re := regexp.MustCompile(`(?i)(^|[^\p{L}\p{N}_])` + regexp.QuoteMeta(word) + `($|[^\p{L}\p{N}_])`)
	return re.MatchString(s)
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
