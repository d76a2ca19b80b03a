package data

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestWithTrigger(t *testing.T) {
	tests := []struct {
		trigger, caption, want string
	}{
		{"flora", "a red circle", "flora, a red circle"},
		{"flora", "a red circle in {trigger} style", "a red circle in flora style"},
		{"flora", "[trigger] a red circle, {trigger}", "flora a red circle, flora"},
		{"flora", "a red circle in flora style", "a red circle in flora style"}, // already there
		{"flora", "a FLORA style circle", "a FLORA style circle"},               // case-insensitive
		{"flora", "a floral dress", "flora, a floral dress"},                    // not a whole word
		{"flora", "", "flora"},
		{"", "a red circle", "a red circle"},
		{"", "{trigger}, a red circle", "a red circle"}, // placeholder without trigger: removed and tidied
		{"sks dog", "a photo of sks dog", "a photo of sks dog"},
		{"c++", "made with c++ code", "made with c++ code"}, // regexp metacharacters
		{"café", "un CAFÉ noir", "un CAFÉ noir"},            // non-ASCII, case-insensitive
		{"flora", "floraflora flora_x", "flora, floraflora flora_x"},
		{"flora", "(flora)", "(flora)"},
	}
	for _, tc := range tests {
		if got := (CaptionRules{Trigger: tc.trigger}).WithTrigger(tc.caption); got != tc.want {
			t.Errorf("WithTrigger(%q, %q) = %q, want %q", tc.trigger, tc.caption, got, tc.want)
		}
	}
}

func TestCaptionApply(t *testing.T) {
	const caption = "a, b, c, d, e, f"
	tags := func(s string) []string { return strings.Split(s, ", ") }
	t.Run("no randomness", func(t *testing.T) {
		r := CaptionRules{Trigger: "flora"}
		if got := r.Apply(caption, rand.New(rand.NewPCG(1, 1))); got != "flora, "+caption {
			t.Errorf("got %q", got)
		}
	})
	t.Run("dropout 1 always empty, 0 never", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			if got := (CaptionRules{Trigger: "x", Dropout: 1}).Apply(caption, rng); got != "" {
				t.Fatalf("dropout 1 gave %q", got)
			}
			if got := (CaptionRules{Dropout: 0}).Apply(caption, rng); got == "" {
				t.Fatal("dropout 0 gave the empty caption")
			}
		}
	})
	t.Run("dropout rate", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		dropped := 0
		const n = 20000
		for i := 0; i < n; i++ {
			if (CaptionRules{Dropout: 0.25}).Apply(caption, rng) == "" {
				dropped++
			}
		}
		// Binomial(20000, 0.25): sd ≈ 61; allow 5 sd.
		if d := dropped - n/4; d > 306 || d < -306 {
			t.Errorf("dropped %d of %d, want about %d", dropped, n, n/4)
		}
	})
	t.Run("shuffle keeps tokens and multiset", func(t *testing.T) {
		r := CaptionRules{Trigger: "flora", ShuffleTags: true, KeepTokens: 2}
		seen := map[string]bool{}
		for i := 0; i < 200; i++ {
			got := r.Apply(caption, rand.New(rand.NewPCG(uint64(i), 5)))
			g := tags(got)
			if g[0] != "flora" || g[1] != "a" {
				t.Fatalf("kept tokens moved: %q", got)
			}
			sorted := slices.Clone(g[2:])
			slices.Sort(sorted)
			if !slices.Equal(sorted, []string{"b", "c", "d", "e", "f"}) {
				t.Fatalf("tags changed: %q", got)
			}
			seen[got] = true
		}
		if len(seen) < 50 { // 120 permutations, 200 draws
			t.Errorf("only %d distinct orders", len(seen))
		}
	})
	t.Run("shuffle drops empty tags, ignores captions without commas", func(t *testing.T) {
		r := CaptionRules{ShuffleTags: true, KeepTokens: 5}
		if got := r.Apply("x,, y ,z", rand.New(rand.NewPCG(1, 1))); got != "x, y, z" {
			t.Errorf("got %q", got)
		}
		if got := r.Apply("no commas here", rand.New(rand.NewPCG(1, 1))); got != "no commas here" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("deterministic and draw count independent of outcome", func(t *testing.T) {
		r := CaptionRules{Dropout: 0.5, ShuffleTags: true}
		for i := 0; i < 50; i++ {
			a, b := rand.New(rand.NewPCG(uint64(i), 9)), rand.New(rand.NewPCG(uint64(i), 9))
			if r.Apply(caption, a) != r.Apply(caption, b) {
				t.Fatal("same seed, different captions")
			}
			// Whatever happened, both generators are in the same state.
			c := rand.New(rand.NewPCG(uint64(i), 9))
			(CaptionRules{}).Apply("plain", c)
			if a.Uint64() != c.Uint64() {
				t.Fatal("Apply consumed a caption-dependent number of draws")
			}
		}
	})
}
