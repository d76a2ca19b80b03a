package tokenizer

import "math"

// rankBPE is tiktoken's byte-pair encoding, used by Mistral's tekken.json: every token is a
// byte string with a rank, and a word is encoded by repeatedly merging the adjacent pair
// whose concatenation has the lowest rank (leftmost on ties). A word that is itself a
// token is emitted directly. Ids are rank + idOffset (Tekken reserves the first ids for
// control tokens).
type rankBPE struct {
	ranks map[string]int // raw bytes -> rank
	// vocabulary holds the tokens in the GPT-2 byte alphabet (for Decode/TokenID).
	vocabulary
	idOffset int
	cache    *wordCache
}

func (m *rankBPE) size() int { return len(m.ranks) }

// encodeWord appends the ids of word (raw bytes of one pre-token) to dst.
func (m *rankBPE) encodeWord(word string, dst []int) []int {
	if r, ok := m.ranks[word]; ok {
		return append(dst, r+m.idOffset)
	}
	return m.cache.encode(word, dst, m.merge)
}

// merge runs the rank-based merge loop. bounds[i] is the start of part i; pairRank[i] is the
// rank of parts i and i+1 joined (MaxInt when that byte string is not a token).
func (m *rankBPE) merge(word string, dst []int) []int {
	n := len(word)
	bounds := make([]int, n+1)
	for i := range bounds {
		bounds[i] = i
	}
	rankOf := func(i int) int { // rank of parts i and i+1 joined
		if i+2 >= len(bounds) {
			return math.MaxInt
		}
		if r, ok := m.ranks[word[bounds[i]:bounds[i+2]]]; ok {
			return r
		}
		return math.MaxInt
	}
	pairRank := make([]int, n)
	for i := 0; i < n; i++ {
		pairRank[i] = rankOf(i)
	}
	for {
		best, bestRank := -1, math.MaxInt
		for i := 0; i+1 < len(bounds)-1; i++ {
			if pairRank[i] < bestRank {
				best, bestRank = i, pairRank[i]
			}
		}
		if best < 0 {
			break
		}
		bounds = append(bounds[:best+1], bounds[best+2:]...)
		pairRank = append(pairRank[:best+1], pairRank[best+2:]...)
		pairRank[best] = rankOf(best)
		if best > 0 {
			pairRank[best-1] = rankOf(best - 1)
		}
	}
	for i := 0; i+1 < len(bounds); i++ {
		// Every part is a token: single bytes always are, merged parts are by construction.
		dst = append(dst, m.ranks[word[bounds[i]:bounds[i+1]]]+m.idOffset)
	}
	return dst
}
