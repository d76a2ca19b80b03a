package job

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration: the key path it concerns
// (e.g. "train.lr") and what is wrong and how to fix it.
type Problem struct {
	Path string
	Msg  string
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Problems is the list of every problem found in a configuration. It is an
// error so that loading and validation can return all problems at once.
type Problems struct {
	// Source names the configuration (usually its file path).
	Source string
	List   []Problem
}

// Error lists every problem, one per line.
func (ps *Problems) Error() string {
	var b strings.Builder
	src := ps.Source
	if src == "" {
		src = "configuration"
	}
	fmt.Fprintf(&b, "%s: %d problem(s):", src, len(ps.List))
	for _, p := range ps.List {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (ps *Problems) add(path, format string, args ...any) {
	ps.List = append(ps.List, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns ps as an error, or nil when there is no problem.
func (ps *Problems) err() error {
	if len(ps.List) == 0 {
		return nil
	}
	return ps
}
