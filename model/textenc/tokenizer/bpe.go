package tokenizer

import (
	"container/heap"
	"fmt"
	"math"
	"unicode/utf8"
)

// model turns one pre-tokenized word into token ids and maps ids to token strings.
// Token strings of byte-level models are written in the GPT-2 byte alphabet.
type model interface {
	encodeWord(word string, dst []int) []int
	idToToken(id int) (string, bool)
	tokenToID(tok string) (int, bool)
	size() int
}

// mergeRule is the rank of a merge and the id of the token it produces.
type mergeRule struct {
	rank int32
	id   int32
}

// bpeModel is the Hugging Face "BPE" model: a vocabulary plus ranked merges of token pairs.
// Encoding a word repeatedly applies the lowest-ranked merge available, leftmost first.
type bpeModel struct {
	vocabulary
	merges       map[uint64]mergeRule
	ignoreMerges bool
	byteFallback bool
	fuseUnk      bool
	unkID        int // -1: no unknown token (unknown characters are dropped, as in HF)
	byteLevel    *byteLevelTable
	byteIDs      [256]int // ids of the single byte-level characters, -1 if absent
	fallbackIDs  [256]int // ids of "<0xXX>" tokens, -1 if absent
	cache        *wordCache
}

// heapMergeMinLen: words with at least this many symbols use the heap-based merge loop.
const heapMergeMinLen = 48

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newBPEModel builds the model from a vocabulary and ordered merges (pairs of token strings).
// byteLevel is non-nil when the pre-tokenizer maps words to the byte alphabet.
func newBPEModel(vocab map[string]int, merges [][2]string, byteLevel *byteLevelTable) (*bpeModel, error) {
	m := &bpeModel{
		vocabulary: vocabulary{ids: vocab, tokens: make(map[int]string, len(vocab))},
		merges:     make(map[uint64]mergeRule, len(merges)),
		unkID:      -1,
		byteLevel:  byteLevel,
		cache:      newWordCache(),
	}
	for tok, id := range vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("vocab: token %q has invalid id %d", tok, id)
		}
		if prev, dup := m.tokens[id]; dup {
			return nil, fmt.Errorf("vocab: id %d used by both %q and %q", id, prev, tok)
		}
		m.tokens[id] = tok
	}
	for i, mg := range merges {
		a, okA := vocab[mg[0]]
		b, okB := vocab[mg[1]]
		c, okC := vocab[mg[0]+mg[1]]
		if !okA || !okB || !okC {
			return nil, fmt.Errorf("merges[%d] (%q %q): token or merge result not in vocab", i, mg[0], mg[1])
		}
		// A duplicated pair keeps its last rank, as the HF loader's map insertion does.
		m.merges[pairKey(a, b)] = mergeRule{rank: int32(i), id: int32(c)}
	}
	for b := 0; b < 256; b++ {
		m.byteIDs[b], m.fallbackIDs[b] = -1, -1
		if byteLevel != nil {
			if id, ok := vocab[byteLevel.toStr[b]]; ok {
				m.byteIDs[b] = id
			}
		}
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackIDs[b] = id
		}
	}
	return m, nil
}

func (m *bpeModel) size() int { return len(m.ids) }

// encodeWord appends the ids of word (raw bytes of one pre-token) to dst.
func (m *bpeModel) encodeWord(word string, dst []int) []int {
	return m.cache.encode(word, dst, m.encodeUncached)
}

func (m *bpeModel) encodeUncached(word string, dst []int) []int {
	key := word
	if m.byteLevel != nil {
		key = m.byteLevel.encode(word)
	}
	if m.ignoreMerges {
		if id, ok := m.ids[key]; ok {
			return append(dst, id)
		}
	}
	syms := m.initialSymbols(word, key, make([]int, 0, len(word)))
	if len(syms) >= heapMergeMinLen {
		syms = m.mergeHeap(syms)
	} else {
		syms = m.mergeScan(syms)
	}
	return append(dst, syms...)
}

// initialSymbols splits a word into single-character symbols, applying byte fallback and
// the unknown token like the Hugging Face BPE model does.
func (m *bpeModel) initialSymbols(word, key string, syms []int) []int {
	if m.byteLevel != nil {
		for i := 0; i < len(word); i++ {
			if id := m.byteIDs[word[i]]; id >= 0 {
				syms = append(syms, id)
			} else {
				syms = m.unknown(word[i:i+1], syms)
			}
		}
		return syms
	}
	for i := 0; i < len(key); {
		_, size := utf8.DecodeRuneInString(key[i:])
		ch := key[i : i+size]
		i += size
		if id, ok := m.ids[ch]; ok {
			syms = append(syms, id)
			continue
		}
		syms = m.unknown(ch, syms)
	}
	return syms
}

// unknown appends the symbols for a character missing from the vocabulary: its <0xXX>
// byte tokens (byte_fallback), else the unknown token (fused with a preceding one when
// fuse_unk), else nothing.
func (m *bpeModel) unknown(ch string, syms []int) []int {
	if m.byteFallback {
		all := true
		for i := 0; i < len(ch); i++ {
			if m.fallbackIDs[ch[i]] < 0 {
				all = false
				break
			}
		}
		if all {
			for i := 0; i < len(ch); i++ {
				syms = append(syms, m.fallbackIDs[ch[i]])
			}
			return syms
		}
	}
	if m.unkID < 0 {
		return syms // HF drops characters it cannot represent when there is no unk token
	}
	if m.fuseUnk && len(syms) > 0 && syms[len(syms)-1] == m.unkID {
		return syms
	}
	return append(syms, m.unkID)
}

// mergeScan applies merges by repeatedly scanning for the lowest-ranked pair (leftmost on ties).
func (m *bpeModel) mergeScan(syms []int) []int {
	for len(syms) > 1 {
		best, bestRank, bestID := -1, int32(math.MaxInt32), int32(0)
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := m.merges[pairKey(syms[i], syms[i+1])]; ok && r.rank < bestRank {
				best, bestRank, bestID = i, r.rank, r.id
			}
		}
		if best < 0 {
			break
		}
		syms[best] = int(bestID)
		syms = append(syms[:best+1], syms[best+2:]...)
	}
	return syms
}

// mergeCandidate is a possible merge of the symbol at pos with its right neighbour.
type mergeCandidate struct {
	rank, pos int32
	id        int32
}

type mergeHeap []mergeCandidate

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeCandidate)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeHeap is the O(n log n) equivalent of mergeScan for long words: a priority queue of
// candidate merges ordered by (rank, position) over a linked list of symbols.
func (m *bpeModel) mergeHeap(syms []int) []int {
	n := len(syms)
	next := make([]int32, n)
	prev := make([]int32, n)
	alive := make([]bool, n)
	h := make(mergeHeap, 0, n)
	for i := 0; i < n; i++ {
		next[i], prev[i], alive[i] = int32(i+1), int32(i-1), true
		if i+1 < n {
			if r, ok := m.merges[pairKey(syms[i], syms[i+1])]; ok {
				h = append(h, mergeCandidate{rank: r.rank, pos: int32(i), id: r.id})
			}
		}
	}
	next[n-1] = -1
	heap.Init(&h)
	for h.Len() > 0 {
		c := heap.Pop(&h).(mergeCandidate)
		p := c.pos
		if !alive[p] || next[p] < 0 {
			continue
		}
		q := next[p]
		r, ok := m.merges[pairKey(syms[p], syms[q])]
		if !ok || r.rank != c.rank || r.id != c.id {
			continue // stale: one of the two symbols changed since the candidate was queued
		}
		syms[p] = int(r.id)
		alive[q] = false
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if r2, ok := m.merges[pairKey(syms[pp], syms[p])]; ok {
				heap.Push(&h, mergeCandidate{rank: r2.rank, pos: pp, id: r2.id})
			}
		}
		if nn := next[p]; nn >= 0 {
			if r2, ok := m.merges[pairKey(syms[p], syms[nn])]; ok {
				heap.Push(&h, mergeCandidate{rank: r2.rank, pos: p, id: r2.id})
			}
		}
	}
	out := syms[:0]
	for i := 0; i >= 0 && i < n; i = int(next[i]) {
		out = append(out, syms[i])
	}
	return out
}
