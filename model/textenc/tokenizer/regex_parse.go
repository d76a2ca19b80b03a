package tokenizer

import (
	"fmt"
	"strconv"
	"unicode"
)

// The pre-tokenizer patterns of Hugging Face tokenizers are Oniguruma regexes and those of
// tiktoken/Tekken are fancy-regex regexes. Both are backtracking engines with Perl
// (leftmost-first) semantics and lookahead, which Go's regexp lacks. This file parses the
// subset of that syntax used by byte-level BPE pre-tokenizers into a small AST that
// regex_compile.go turns into a backtracking program. Anything outside the subset is
// rejected with an error naming the construct, so no pattern is silently misread.

// nodeKind enumerates the AST node types of the regex subset.
type nodeKind uint8

const (
	nodeClass     nodeKind = iota // one rune from a character class (literals are 1-rune classes)
	nodeConcat                    // subs in sequence
	nodeAlt                       // subs as ordered alternatives (first match wins)
	nodeRepeat                    // subs[0] repeated min..max times (max < 0: unbounded)
	nodeLookahead                 // zero-width assertion on subs[0]; negate for (?!...)
	nodeAtomic                    // atomic group (?>...) and possessive quantifiers
)

// maxCountedRepeat bounds {n,m} so a pattern cannot make the compiled program explode.
const maxCountedRepeat = 1000

// maxPatternRunes bounds the pattern length accepted from a tokenizer file.
const maxPatternRunes = 1 << 16

// node is one AST node of a parsed pattern.
type node struct {
	kind       nodeKind
	class      *runeClass
	subs       []*node
	min, max   int
	lazy       bool
	possessive bool
	negate     bool
}

// RegexDialect selects the few syntax points where the two reference engines differ.
type RegexDialect uint8

const (
	// Oniguruma is the engine of Hugging Face tokenizers (Ruby syntax): after an interval,
	// "+" is a further one-or-more repeat ({1,3}+ = (?:x{1,3})+), "{n}?" is an optional
	// exact repeat, and "{,n}" means {0,n}.
	Oniguruma RegexDialect = iota
	// FancyRegex is the engine of tiktoken (and so of tekken.json): "{n,m}+" is possessive
	// and "{n,m}?" lazy.
	FancyRegex
)

// regexParser is a recursive-descent parser over the pattern's runes.
type regexParser struct {
	src     []rune
	pos     int
	fold    bool
	dialect RegexDialect
}

// parseRegex parses pattern into an AST.
func parseRegex(pattern string, dialect RegexDialect) (*node, error) {
	src := []rune(pattern)
	if len(src) > maxPatternRunes {
		return nil, fmt.Errorf("regex: pattern too long (%d runes, limit %d)", len(src), maxPatternRunes)
	}
	p := &regexParser{src: src, dialect: dialect}
	n, err := p.parseAlt()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.src) {
		return nil, p.errorf("unbalanced ')'")
	}
	return n, nil
}

func (p *regexParser) errorf(format string, args ...any) error {
	return fmt.Errorf("regex: at rune %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *regexParser) more() bool { return p.pos < len(p.src) }

func (p *regexParser) peek() rune { return p.src[p.pos] }

func (p *regexParser) hasPrefix(s string) bool {
	rs := []rune(s)
	if p.pos+len(rs) > len(p.src) {
		return false
	}
	for i, r := range rs {
		if p.src[p.pos+i] != r {
			return false
		}
	}
	return true
}

func (p *regexParser) parseAlt() (*node, error) {
	var alts []*node
	for {
		c, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.more() && p.peek() == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: nodeAlt, subs: alts}, nil
}

func (p *regexParser) parseConcat() (*node, error) {
	var items []*node
	for p.more() {
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		atom, err := p.parseAtom()
		if err != nil {
			return nil, err
		}
		if atom == nil { // an inline flag group such as (?i) produces no node
			continue
		}
		atom, err = p.parseQuantifier(atom)
		if err != nil {
			return nil, err
		}
		items = append(items, atom)
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &node{kind: nodeConcat, subs: items}, nil
}

func (p *regexParser) literal(r rune) *node {
	return &node{kind: nodeClass, class: newRuneClass([]classItem{{lo: r, hi: r}}, false, p.fold)}
}

func (p *regexParser) parseAtom() (*node, error) {
	c := p.peek()
	switch c {
	case '(':
		return p.parseGroup()
	case '[':
		return p.parseClass()
	case '.':
		p.pos++
		return &node{kind: nodeClass, class: newRuneClass([]classItem{{lo: '\n', hi: '\n'}}, true, false)}, nil
	case '\\':
		p.pos++
		items, r, isRune, err := p.parseEscape()
		if err != nil {
			return nil, err
		}
		if isRune {
			return p.literal(r), nil
		}
		return &node{kind: nodeClass, class: newRuneClass(items, false, p.fold)}, nil
	case '^', '$':
		return nil, p.errorf("anchor %q is not supported", c)
	case '*', '+', '?':
		return nil, p.errorf("quantifier %q with nothing to repeat", c)
	}
	p.pos++
	return p.literal(c), nil
}

// parseGroup parses (...), (?:...), (?flags:...), (?flags), (?=...), (?!...) and (?>...).
func (p *regexParser) parseGroup() (*node, error) {
	p.pos++ // '('
	kind := nodeConcat
	negate := false
	savedFold := p.fold
	if p.more() && p.peek() == '?' {
		p.pos++
		if !p.more() {
			return nil, p.errorf("unterminated group")
		}
		switch c := p.peek(); c {
		case ':':
			p.pos++
		case '=', '!':
			p.pos++
			kind, negate = nodeLookahead, c == '!'
		case '>':
			p.pos++
			kind = nodeAtomic
		case '<', 'P', '#':
			return nil, p.errorf("group syntax (?%c is not supported (no lookbehind, named groups or comments)", c)
		default:
			inline, err := p.parseFlags()
			if err != nil {
				return nil, err
			}
			if inline { // (?i) applies to the rest of the enclosing group
				return nil, nil
			}
		}
	}
	inner, err := p.parseAlt()
	if err != nil {
		return nil, err
	}
	if !p.more() || p.peek() != ')' {
		return nil, p.errorf("missing ')'")
	}
	p.pos++
	p.fold = savedFold
	switch kind {
	case nodeLookahead, nodeAtomic:
		return &node{kind: kind, subs: []*node{inner}, negate: negate}, nil
	}
	return inner, nil
}

// parseFlags parses "i)", "i:", "-i:" and the like after "(?". It returns inline=true
// for the (?flags) form, which changes p.fold for the rest of the enclosing group.
func (p *regexParser) parseFlags() (inline bool, err error) {
	on := true
	for p.more() {
		c := p.peek()
		p.pos++
		switch c {
		case 'i':
			p.fold = on
		case '-':
			on = false
		case ':':
			return false, nil
		case ')':
			return true, nil
		default:
			return false, p.errorf("inline flag %q is not supported (only i)", c)
		}
	}
	return false, p.errorf("unterminated flag group")
}

// parseQuantifier parses an optional quantifier (*, +, ?, {n}, {n,}, {n,m}) and its
// lazy (?) or possessive (+) modifier after atom.
func (p *regexParser) parseQuantifier(atom *node) (*node, error) {
	if !p.more() {
		return atom, nil
	}
	minN, maxN := 0, 0
	interval := false
	switch p.peek() {
	case '*':
		minN, maxN = 0, -1
		p.pos++
	case '+':
		minN, maxN = 1, -1
		p.pos++
	case '?':
		minN, maxN = 0, 1
		p.pos++
	case '{':
		lo, hi, ok := p.parseInterval()
		if !ok {
			return atom, nil // not an interval: '{' is read as a literal by the next atom
		}
		if lo > maxCountedRepeat || hi > maxCountedRepeat {
			return nil, p.errorf("repeat count above %d", maxCountedRepeat)
		}
		if hi >= 0 && hi < lo {
			return nil, p.errorf("invalid repeat interval {%d,%d}", lo, hi)
		}
		minN, maxN = lo, hi
		interval = true
	default:
		return atom, nil
	}
	rep := &node{kind: nodeRepeat, subs: []*node{atom}, min: minN, max: maxN}
	if interval && p.dialect == Oniguruma && p.more() {
		// Ruby syntax: {n,m}? is lazy, but {n}? is optional and {..}+ is one-or-more.
		switch c := p.peek(); {
		case c == '?' && minN == maxN:
			p.pos++
			rep = &node{kind: nodeRepeat, subs: []*node{rep}, min: 0, max: 1}
		case c == '+':
			p.pos++
			rep = &node{kind: nodeRepeat, subs: []*node{rep}, min: 1, max: -1}
		}
	}
	if p.more() {
		switch p.peek() {
		case '?':
			rep.lazy = true
			p.pos++
		case '+':
			rep.possessive = true
			p.pos++
		}
	}
	if p.more() {
		switch p.peek() {
		case '*', '+', '?':
			return nil, p.errorf("nested quantifier %q", p.peek())
		}
	}
	return rep, nil
}

// parseInterval parses {n}, {n,} or {n,m}; on anything else it consumes nothing and returns ok=false.
func (p *regexParser) parseInterval() (lo, hi int, ok bool) {
	start := p.pos
	i := p.pos + 1
	readNum := func() (int, bool) {
		j := i
		for i < len(p.src) && p.src[i] >= '0' && p.src[i] <= '9' {
			i++
		}
		if i == j || i-j > 6 {
			return 0, false
		}
		v, err := strconv.Atoi(string(p.src[j:i]))
		return v, err == nil
	}
	if p.dialect == Oniguruma && i < len(p.src) && p.src[i] == ',' {
		i++
		hi, ok = readNum()
		if ok && i < len(p.src) && p.src[i] == '}' {
			p.pos = i + 1
			return 0, hi, true
		}
		p.pos = start
		return 0, 0, false
	}
	lo, ok = readNum()
	if !ok || i >= len(p.src) {
		p.pos = start
		return 0, 0, false
	}
	switch p.src[i] {
	case '}':
		p.pos = i + 1
		return lo, lo, true
	case ',':
		i++
		if i < len(p.src) && p.src[i] == '}' {
			p.pos = i + 1
			return lo, -1, true
		}
		hi, ok = readNum()
		if ok && i < len(p.src) && p.src[i] == '}' {
			p.pos = i + 1
			return lo, hi, true
		}
	}
	p.pos = start
	return 0, 0, false
}

// parseClass parses a bracket expression [...] (no nesting, no set operations).
func (p *regexParser) parseClass() (*node, error) {
	p.pos++ // '['
	negated := false
	if p.more() && p.peek() == '^' {
		negated = true
		p.pos++
	}
	var items []classItem
	first := true
	for {
		if !p.more() {
			return nil, p.errorf("unterminated character class")
		}
		c := p.peek()
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		if c == '[' {
			return nil, p.errorf("nested character classes and POSIX brackets are not supported")
		}
		if c == '&' && p.hasPrefix("&&") {
			return nil, p.errorf("character class intersection '&&' is not supported")
		}
		p.pos++
		lo := c
		if c == '\\' {
			escItems, r, isRune, err := p.parseEscape()
			if err != nil {
				return nil, err
			}
			if !isRune {
				items = append(items, escItems...)
				continue
			}
			lo = r
		}
		hi := lo
		if p.pos+1 < len(p.src) && p.peek() == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			h := p.peek()
			p.pos++
			if h == '\\' {
				_, r, isRune, err := p.parseEscape()
				if err != nil {
					return nil, err
				}
				if !isRune {
					return nil, p.errorf("class escape cannot end a range")
				}
				h = r
			}
			if h < lo {
				return nil, p.errorf("invalid class range %q-%q", lo, h)
			}
			hi = h
		}
		items = append(items, classItem{lo: lo, hi: hi})
	}
	return &node{kind: nodeClass, class: newRuneClass(items, negated, p.fold)}, nil
}

// parseEscape parses the escape after a backslash. It returns either a single rune
// (isRune) or class items for \s \S \d \D \p{..} \P{..}.
func (p *regexParser) parseEscape() (items []classItem, r rune, isRune bool, err error) {
	if !p.more() {
		return nil, 0, false, p.errorf("trailing backslash")
	}
	c := p.peek()
	p.pos++
	switch c {
	case 'r':
		return nil, '\r', true, nil
	case 'n':
		return nil, '\n', true, nil
	case 't':
		return nil, '\t', true, nil
	case 'f':
		return nil, '\f', true, nil
	case 'v':
		return nil, '\v', true, nil
	case 'a':
		return nil, 0x07, true, nil
	case 'e':
		return nil, 0x1b, true, nil
	case 'x':
		r, err := p.parseHex()
		return nil, r, err == nil, err
	case 'u':
		r, err := p.parseFixedHex(4)
		return nil, r, err == nil, err
	case 's', 'S':
		return []classItem{{table: unicode.White_Space, negate: c == 'S'}}, 0, false, nil
	case 'd', 'D':
		return []classItem{{table: unicode.Nd, negate: c == 'D'}}, 0, false, nil
	case 'p', 'P':
		tab, neg, err := p.parseProperty()
		if err != nil {
			return nil, 0, false, err
		}
		return []classItem{{table: tab, negate: neg != (c == 'P')}}, 0, false, nil
	}
	if c < 128 && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
		return nil, 0, false, p.errorf("escape \\%c is not supported", c)
	}
	return nil, c, true, nil
}

// parseHex parses \xHH or \x{H...}.
func (p *regexParser) parseHex() (rune, error) {
	if p.more() && p.peek() == '{' {
		p.pos++
		start := p.pos
		for p.more() && p.peek() != '}' {
			p.pos++
		}
		if !p.more() || p.pos == start || p.pos-start > 8 {
			return 0, p.errorf("bad \\x{...} escape")
		}
		v, err := strconv.ParseUint(string(p.src[start:p.pos]), 16, 32)
		p.pos++
		if err != nil || v > unicode.MaxRune {
			return 0, p.errorf("bad \\x{...} escape")
		}
		return rune(v), nil
	}
	return p.parseFixedHex(2)
}

func (p *regexParser) parseFixedHex(n int) (rune, error) {
	if p.pos+n > len(p.src) {
		return 0, p.errorf("short hex escape")
	}
	v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
	if err != nil {
		return 0, p.errorf("bad hex escape")
	}
	p.pos += n
	return rune(v), nil
}

// propertyAliases maps the long general-category names to Go's short ones.
var propertyAliases = map[string]string{
	"Letter": "L", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll", "Titlecase_Letter": "Lt",
	"Modifier_Letter": "Lm", "Other_Letter": "Lo", "Mark": "M", "Nonspacing_Mark": "Mn",
	"Spacing_Mark": "Mc", "Enclosing_Mark": "Me", "Number": "N", "Decimal_Number": "Nd",
	"Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P", "Symbol": "S",
	"Separator": "Z", "Space_Separator": "Zs", "Control": "Cc", "Format": "Cf",
}

// parseProperty parses the name after \p or \P: a single letter or {Name} / {^Name}.
func (p *regexParser) parseProperty() (*unicode.RangeTable, bool, error) {
	if !p.more() {
		return nil, false, p.errorf("missing property name")
	}
	var name string
	neg := false
	if p.peek() == '{' {
		p.pos++
		start := p.pos
		for p.more() && p.peek() != '}' {
			p.pos++
		}
		if !p.more() {
			return nil, false, p.errorf("unterminated \\p{...}")
		}
		name = string(p.src[start:p.pos])
		p.pos++
		if len(name) > 0 && name[0] == '^' {
			neg, name = true, name[1:]
		}
	} else {
		name = string(p.peek())
		p.pos++
	}
	if alias, ok := propertyAliases[name]; ok {
		name = alias
	}
	if t, ok := unicode.Categories[name]; ok {
		return t, neg, nil
	}
	if t, ok := unicode.Scripts[name]; ok {
		return t, neg, nil
	}
	return nil, false, p.errorf("unknown Unicode property %q", name)
}
