package tokenizer

import "unicode"

// classItem is one member of a character class: either an inclusive rune range or a
// Unicode table, optionally negated (as for \P{..}, \S or \D inside a class).
type classItem struct {
	lo, hi rune
	table  *unicode.RangeTable
	negate bool
}

func (it classItem) contains(r rune) bool {
	var in bool
	if it.table != nil {
		in = unicode.Is(it.table, r)
	} else {
		in = r >= it.lo && r <= it.hi
	}
	return in != it.negate
}

// runeClass is a compiled character class: the union of its items, optionally
// case-folded (Unicode simple case folding, as Oniguruma and fancy-regex do for (?i))
// and optionally negated. Membership of ASCII runes is precomputed into a bitmap.
type runeClass struct {
	items   []classItem
	negated bool
	fold    bool
	ascii   [2]uint64
}

// newRuneClass builds a class and precomputes its ASCII bitmap.
func newRuneClass(items []classItem, negated, fold bool) *runeClass {
	c := &runeClass{items: items, negated: negated, fold: fold}
	for r := rune(0); r < 128; r++ {
		if c.slowMatch(r) {
			c.ascii[r>>6] |= 1 << (uint(r) & 63)
		}
	}
	return c
}

// matches reports whether r belongs to the class.
func (c *runeClass) matches(r rune) bool {
	if r >= 0 && r < 128 {
		return c.ascii[r>>6]&(1<<(uint(r)&63)) != 0
	}
	return c.slowMatch(r)
}

func (c *runeClass) raw(r rune) bool {
	for _, it := range c.items {
		if it.contains(r) {
			return true
		}
	}
	return false
}

func (c *runeClass) slowMatch(r rune) bool {
	m := c.raw(r)
	if !m && c.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if c.raw(f) {
				m = true
				break
			}
		}
	}
	return m != c.negated
}
