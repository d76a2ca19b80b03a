package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// Regexp is a compiled pre-tokenizer pattern with backtracking, leftmost-first (Perl)
// semantics — the semantics of Oniguruma (Hugging Face tokenizers) and fancy-regex
// (tiktoken) — including lookahead, atomic groups and possessive quantifiers.
// A Regexp is safe for concurrent use.
type Regexp struct {
	pattern string
	prog    *program
}

// CompileRegexp parses and compiles pattern in the given dialect. Unsupported syntax is
// an error naming it.
func CompileRegexp(pattern string, dialect RegexDialect) (*Regexp, error) {
	ast, err := parseRegex(pattern, dialect)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	prog, err := compileRegex(ast)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return &Regexp{pattern: pattern, prog: prog}, nil
}

// String returns the source pattern.
func (re *Regexp) String() string { return re.pattern }

// frame is a backtracking point: resume at pc with the input at rune index pos.
type frame struct{ pc, pos int }

// regexExec holds the per-call state of one search.
type regexExec struct {
	in    []rune
	stack []frame
}

// run executes prog anchored at pos and returns the end of the first (highest-priority) match.
func (e *regexExec) run(p *program, pos int) (int, bool) {
	base := len(e.stack)
	pc := 0
	for {
		in := &p.insts[pc]
		ok := true
		switch in.op {
		case opClass:
			if pos < len(e.in) && in.class.matches(e.in[pos]) {
				pos++
				pc++
			} else {
				ok = false
			}
		case opSplit:
			e.stack = append(e.stack, frame{in.y, pos})
			pc = in.x
		case opJmp:
			pc = in.x
		case opMatch:
			e.stack = e.stack[:base]
			return pos, true
		case opLook:
			_, m := e.run(in.sub, pos)
			if m != in.neg {
				pc++
			} else {
				ok = false
			}
		case opAtomic:
			end, m := e.run(in.sub, pos)
			if m {
				pos = end
				pc++
			} else {
				ok = false
			}
		}
		if ok {
			continue
		}
		if len(e.stack) == base {
			return 0, false
		}
		f := e.stack[len(e.stack)-1]
		e.stack = e.stack[:len(e.stack)-1]
		pc, pos = f.pc, f.pos
	}
}

// span is a half-open byte range [start, end) of a string.
type span struct{ start, end int }

// FindAllIndex returns the byte spans of all successive non-overlapping matches in s,
// searching like Oniguruma's and fancy-regex's find iterators: from each position, the
// leftmost start that matches, with its highest-priority match. Invalid UTF-8 bytes are
// read as U+FFFD but spans always refer to the original bytes.
func (re *Regexp) FindAllIndex(s string) [][2]int {
	spans := re.findAll(s)
	out := make([][2]int, len(spans))
	for i, sp := range spans {
		out[i] = [2]int{sp.start, sp.end}
	}
	return out
}

func (re *Regexp) findAll(s string) []span {
	runes := make([]rune, 0, len(s))
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		runes = append(runes, r)
		offs = append(offs, i)
		i += size
	}
	offs = append(offs, len(s))
	e := regexExec{in: runes}
	var out []span
	for pos := 0; pos < len(runes); {
		found := false
		for start := pos; start < len(runes); start++ {
			if end, ok := e.run(re.prog, start); ok {
				out = append(out, span{offs[start], offs[end]})
				pos = end
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	return out
}
