package tokenizer

import "sync"

// wordCacheCapacity bounds the number of cached words; the cache is cleared when full.
const wordCacheCapacity = 1 << 16

// wordCacheMaxWordLen: longer words are not cached.
const wordCacheMaxWordLen = 1024

// wordCache memoizes the BPE ids of pre-tokenized words. It is safe for concurrent use.
type wordCache struct {
	mu    sync.Mutex
	words map[string][]int
}

func newWordCache() *wordCache {
	return &wordCache{words: make(map[string][]int)}
}

// get appends the cached ids of word to dst; ok is false on a miss.
func (c *wordCache) get(word string, dst []int) ([]int, bool) {
	if len(word) > wordCacheMaxWordLen {
		return dst, false
	}
	c.mu.Lock()
	ids, ok := c.words[word]
	c.mu.Unlock()
	if !ok {
		return dst, false
	}
	return append(dst, ids...), true
}

// put stores a copy of ids for word.
func (c *wordCache) put(word string, ids []int) {
	if len(word) > wordCacheMaxWordLen {
		return
	}
	cp := append([]int(nil), ids...)
	c.mu.Lock()
	if len(c.words) >= wordCacheCapacity {
		c.words = make(map[string][]int)
	}
	c.words[word] = cp
	c.mu.Unlock()
}

// encode appends the ids of word to dst: the cached ones, or on a miss
// those encode appends (then cached).
func (c *wordCache) encode(word string, dst []int, encode func(word string, dst []int) []int) []int {
	if out, ok := c.get(word, dst); ok {
		return out
	}
	start := len(dst)
	dst = encode(word, dst)
	c.put(word, dst[start:])
	return dst
}
