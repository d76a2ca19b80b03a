package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched verbatim in the input before normalization and BPE, as in
// the "added_tokens" list of tokenizer.json (control/special tokens and user additions).
type AddedToken struct {
	ID         int
	Content    string
	SingleWord bool // only match when not surrounded by word characters
	LStrip     bool // absorb whitespace on the left
	RStrip     bool // absorb whitespace on the right
	Normalized bool // matched in the normalized text instead of the raw text
	Special    bool // skipped by Decode when skipping special tokens
}

// segment is a piece of input: plain text (token < 0) or one added token.
type segment struct {
	text  string
	token int // index into addedVocab.tokens, or -1
}

// trieNode is a node of a byte trie over added-token contents.
type trieNode struct {
	children map[byte]*trieNode
	token    int       // index of the token ending here, or -1
	first    [4]uint64 // root only: bitmap of the bytes that start some token
}

func newTrieNode() *trieNode { return &trieNode{token: -1} }

func (t *trieNode) insert(s string, token int) {
	t.first[s[0]>>6] |= 1 << (s[0] & 63)
	n := t
	for i := 0; i < len(s); i++ {
		c, ok := n.children[s[i]]
		if !ok {
			if n.children == nil {
				n.children = make(map[byte]*trieNode)
			}
			c = newTrieNode()
			n.children[s[i]] = c
		}
		n = c
	}
	if n.token < 0 {
		n.token = token
	}
}

// longestAt returns the longest token that starts at s[i:], or -1.
func (t *trieNode) longestAt(s string, i int) (token, end int) {
	token, end = -1, i
	n := t
	for j := i; j < len(s); j++ {
		c, ok := n.children[s[j]]
		if !ok {
			break
		}
		n = c
		if n.token >= 0 {
			token, end = n.token, j+1
		}
	}
	return token, end
}

// addedVocab holds the added tokens and the two tries used to find them: one over the raw
// text (tokens with normalized=false) and one over normalized text (normalized=true, with
// their contents normalized).
type addedVocab struct {
	tokens    []AddedToken
	decoded   []string // per token: its content, normalized when Normalized (as HF id_to_token)
	byContent map[string]int
	byID      map[int]int
	raw       *trieNode
	norm      *trieNode
}

func newAddedVocab(tokens []AddedToken, normalize normalizer) *addedVocab {
	v := &addedVocab{
		tokens:    tokens,
		decoded:   make([]string, len(tokens)),
		byContent: make(map[string]int, len(tokens)),
		byID:      make(map[int]int, len(tokens)),
		raw:       newTrieNode(),
		norm:      newTrieNode(),
	}
	for i, t := range tokens {
		v.byContent[t.Content] = i
		v.byID[t.ID] = i
		v.decoded[i] = t.Content
		if t.Normalized && normalize != nil {
			v.decoded[i] = normalize(t.Content)
		}
		if t.Content == "" {
			continue
		}
		if t.Normalized {
			v.norm.insert(v.decoded[i], i)
		} else {
			v.raw.insert(t.Content, i)
		}
	}
	return v
}

// split cuts s into plain segments and added-token segments found by trie, with the
// leftmost-longest, non-overlapping matching and the single_word/lstrip/rstrip rules of
// the Hugging Face added vocabulary.
func (v *addedVocab) split(s string, trie *trieNode, dst []segment) []segment {
	if trie.children == nil {
		if s != "" {
			dst = append(dst, segment{text: s, token: -1})
		}
		return dst
	}
	startOffset := 0
	for i := 0; i < len(s); {
		if trie.first[s[i]>>6]&(1<<(s[i]&63)) == 0 {
			i++
			continue
		}
		tok, end := trie.longestAt(s, i)
		if tok < 0 {
			i++
			continue
		}
		mStart, mEnd := i, end
		i = end
		at := &v.tokens[tok]
		if at.SingleWord {
			if (mStart > 0 && isWordChar(lastRune(s[:mStart]))) || (mEnd < len(s) && isWordChar(firstRune(s[mEnd:]))) {
				continue
			}
		}
		if at.LStrip {
			ns := trimRightSpaceIndex(s[:mStart])
			if ns < startOffset {
				ns = startOffset
			}
			mStart = ns
		}
		if at.RStrip {
			mEnd += leadingSpaceLen(s[mEnd:])
		}
		if startOffset < mStart {
			dst = append(dst, segment{text: s[startOffset:mStart], token: -1})
		}
		dst = append(dst, segment{text: s[mStart:mEnd], token: tok})
		startOffset = mEnd
		if mEnd > i {
			i = mEnd
		}
	}
	if startOffset < len(s) {
		dst = append(dst, segment{text: s[startOffset:], token: -1})
	}
	return dst
}

// isWordChar is Rust's char::is_alphanumeric (Alphabetic or Numeric) or '_'.
func isWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Other_Alphabetic, r)
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// trimRightSpaceIndex returns the index where the trailing whitespace of s begins.
func trimRightSpaceIndex(s string) int {
	i := len(s)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= size
	}
	return i
}

// leadingSpaceLen returns the byte length of the leading whitespace of s.
func leadingSpaceLen(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !unicode.IsSpace(r) {
			break
		}
		n += size
	}
	return n
}
