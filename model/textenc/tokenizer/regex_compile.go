package tokenizer

import "fmt"

// opcode is an instruction of the backtracking regex program.
type opcode uint8

const (
	opClass  opcode = iota // consume one rune in class, else fail
	opSplit                // try x first; on failure resume at y
	opJmp                  // continue at x
	opMatch                // success
	opLook                 // run sub at the current position; continue iff (matched != neg)
	opAtomic               // run sub; on success continue after its first match, never backtrack into it
)

// inst is one program instruction.
type inst struct {
	op    opcode
	class *runeClass
	x, y  int
	sub   *program
	neg   bool
}

// program is a compiled pattern (or sub-pattern of a lookahead/atomic group).
type program struct {
	insts []inst
}

// maxProgramSize bounds the compiled size of a pattern from a tokenizer file.
const maxProgramSize = 1 << 20

// compiler emits instructions for an AST.
type compiler struct {
	prog  *program
	total *int
}

// compileRegex compiles an AST into a program. Patterns that can match the empty string,
// and repetitions whose body can match the empty string, are rejected: pre-tokenizer
// patterns never need them and they would make the split loop ill-defined.
func compileRegex(n *node) (*program, error) {
	if nullable(n) {
		return nil, fmt.Errorf("regex: pattern can match the empty string, which is not supported for pre-tokenization")
	}
	total := 0
	return compileProgram(n, &total)
}

func compileProgram(n *node, total *int) (*program, error) {
	c := &compiler{prog: &program{}, total: total}
	if err := c.emit(n); err != nil {
		return nil, err
	}
	c.add(inst{op: opMatch})
	if *total > maxProgramSize {
		return nil, fmt.Errorf("regex: compiled program too large (%d instructions)", *total)
	}
	return c.prog, nil
}

func (c *compiler) add(in inst) int {
	c.prog.insts = append(c.prog.insts, in)
	*c.total++
	return len(c.prog.insts) - 1
}

func (c *compiler) pc() int { return len(c.prog.insts) }

func (c *compiler) emit(n *node) error {
	if *c.total > maxProgramSize {
		return fmt.Errorf("regex: compiled program too large")
	}
	switch n.kind {
	case nodeClass:
		c.add(inst{op: opClass, class: n.class})
	case nodeConcat:
		for _, s := range n.subs {
			if err := c.emit(s); err != nil {
				return err
			}
		}
	case nodeAlt:
		// split L1, next; L1: alt0; jmp end; next: split L2, next2; ... last alt; end:
		var jumps []int
		for i, s := range n.subs {
			if i < len(n.subs)-1 {
				split := c.add(inst{op: opSplit})
				c.prog.insts[split].x = c.pc()
				if err := c.emit(s); err != nil {
					return err
				}
				jumps = append(jumps, c.add(inst{op: opJmp}))
				c.prog.insts[split].y = c.pc()
			} else if err := c.emit(s); err != nil {
				return err
			}
		}
		for _, j := range jumps {
			c.prog.insts[j].x = c.pc()
		}
	case nodeRepeat:
		return c.emitRepeat(n)
	case nodeLookahead, nodeAtomic:
		sub, err := compileProgram(n.subs[0], c.total)
		if err != nil {
			return err
		}
		op := opLook
		if n.kind == nodeAtomic {
			op = opAtomic
		}
		c.add(inst{op: op, sub: sub, neg: n.negate})
	default:
		return fmt.Errorf("regex: internal error: unknown node kind %d", n.kind)
	}
	return nil
}

func (c *compiler) emitRepeat(n *node) error {
	body := n.subs[0]
	if nullable(body) && (n.max < 0 || n.max > 1) {
		return fmt.Errorf("regex: repetition of a sub-pattern that can match the empty string is not supported")
	}
	if n.possessive {
		inner := *n
		inner.possessive = false
		sub, err := compileProgram(&inner, c.total)
		if err != nil {
			return err
		}
		c.add(inst{op: opAtomic, sub: sub})
		return nil
	}
	for i := 0; i < n.min; i++ {
		if err := c.emit(body); err != nil {
			return err
		}
	}
	// split gives priority to x; greedy loops prefer another iteration, lazy ones prefer exit.
	setSplit := func(split, loop, exit int) {
		if n.lazy {
			c.prog.insts[split].x, c.prog.insts[split].y = exit, loop
		} else {
			c.prog.insts[split].x, c.prog.insts[split].y = loop, exit
		}
	}
	if n.max < 0 {
		top := c.add(inst{op: opSplit})
		if err := c.emit(body); err != nil {
			return err
		}
		c.add(inst{op: opJmp, x: top})
		setSplit(top, top+1, c.pc())
		return nil
	}
	var splits []int
	for i := n.min; i < n.max; i++ {
		s := c.add(inst{op: opSplit})
		splits = append(splits, s)
		if err := c.emit(body); err != nil {
			return err
		}
	}
	end := c.pc()
	for _, s := range splits {
		setSplit(s, s+1, end)
	}
	return nil
}

// nullable reports whether n can match the empty string.
func nullable(n *node) bool {
	switch n.kind {
	case nodeClass:
		return false
	case nodeConcat:
		for _, s := range n.subs {
			if !nullable(s) {
				return false
			}
		}
		return true
	case nodeAlt:
		for _, s := range n.subs {
			if nullable(s) {
				return true
			}
		}
		return false
	case nodeRepeat:
		return n.min == 0 || nullable(n.subs[0])
	case nodeLookahead:
		return true
	case nodeAtomic:
		return nullable(n.subs[0])
	}
	return true
}
