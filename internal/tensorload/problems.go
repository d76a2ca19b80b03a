package tensorload

import (
	"fmt"
	"sort"
	"strings"
)

// Problems lists every problem found in a checkpoint at once, by stored
// tensor name (mis-shaped ones with found and wanted shapes). The model
// packages' LoadError types embed it.
type Problems struct {
	Missing    []string
	Unexpected []string
	Misshaped  []string
}

// Any reports whether there is a problem.
func (p *Problems) Any() bool {
	return len(p.Missing)+len(p.Unexpected)+len(p.Misshaped) > 0
}

// Sort sorts each list.
func (p *Problems) Sort() {
	sort.Strings(p.Missing)
	sort.Strings(p.Unexpected)
	sort.Strings(p.Misshaped)
}

// Labels name the three lists in a report.
type Labels struct {
	Missing, Unexpected, Misshaped string
}

// DefaultLabels are the plain list names.
var DefaultLabels = Labels{
	Missing:    "missing tensors",
	Unexpected: "unexpected tensors",
	Misshaped:  "tensors with the wrong shape",
}

// maxListed is how many items of a list a report shows.
const maxListed = 20

// Write appends the non-empty lists to b, one indented item a line under a
// count and its label, at most maxListed items each.
func (p *Problems) Write(b *strings.Builder, labels Labels) {
	list := func(what string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(b, "\n  %d %s:", len(items), what)
		for i, it := range items {
			if i == maxListed {
				fmt.Fprintf(b, "\n    ... and %d more", len(items)-maxListed)
				break
			}
			b.WriteString("\n    " + it)
		}
	}
	list(labels.Missing, p.Missing)
	list(labels.Unexpected, p.Unexpected)
	list(labels.Misshaped, p.Misshaped)
}

// Report is the message of a model package's LoadError: source "is not a
// loadable" what, then the non-empty lists under their labels.
func (p *Problems) Report(source, what string, labels Labels) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not a loadable %s:", source, what)
	p.Write(&b, labels)
	return b.String()
}
