package job

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// checker walks a YAML node against the Go type it will be decoded into and
// records unknown keys (with a suggestion), keys given twice and values of
// the wrong type, each with its key path. It lets Load report every problem
// of a file at once, where yaml.v3's strict mode stops at the first.
type checker struct {
	ps *Problems
	// dups are the key paths given twice. The later copies are removed from
	// the tree (so the rest of the file still decodes), and problems
	// Validate finds under these paths are dropped: they would only be
	// side effects of the duplicate.
	dups []string
}

// where says where a node comes from: "line 12", or "from --set" for nodes
// made from a --set override (their Line is 0).
func where(n *yaml.Node) string {
	if n.Line == 0 {
		return "from --set"
	}
	return fmt.Sprintf("line %d", n.Line)
}

func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	ps := c.ps
	if n.Kind == yaml.DocumentNode {
		for _, sub := range n.Content {
			c.check(sub, t, path)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t.Kind() == reflect.Struct {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.MappingNode {
			ps.add(path, "must be a mapping of keys (%s)", where(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if first, dup := seen[k.Value]; dup {
				ps.add(p, "key given twice (line %d, first at line %d); keep one", k.Line, first)
				c.dups = append(c.dups, p)
				continue
			}
			seen[k.Value] = k.Line
			kept = append(kept, k, v)
			f, ok := fields[k.Value]
			if !ok {
				msg := "unknown key (" + where(k) + ")"
				if s := suggest(k.Value, fields); s != "" {
					msg += "; did you mean " + strconv.Quote(joinPath(path, s)) + "?"
				} else {
					msg += "; valid keys: " + strings.Join(sortedKeys(fields), ", ")
				}
				ps.add(p, "%s", msg)
				continue
			}
			c.check(v, f.Type, p)
		}
		n.Content = kept
		return
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			ps.add(path, "must be a list (%s)", where(n))
			return
		}
		for i, sub := range n.Content {
			c.check(sub, t.Elem(), joinPath(path, strconv.Itoa(i)))
		}
		return
	}
	// Leaf (scalar or list of scalars): decode into a fresh value of the
	// field's type to catch type errors with their path.
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		ps.add(path, "%s (%s)", typeErrorText(err, n, t), where(n))
		return
	}
	// yaml.v3 silently truncates 1.5 into an int field.
	if isInt(t) && n.Tag == "!!float" {
		ps.add(path, "must be an integer, got %s (%s)", n.Value, where(n))
	}
	if t.Kind() == reflect.Slice && isInt(t.Elem()) && n.Kind == yaml.SequenceNode {
		for i, sub := range n.Content {
			if sub.Tag == "!!float" {
				ps.add(joinPath(path, strconv.Itoa(i)), "must be an integer, got %s (%s)", sub.Value, where(sub))
			}
		}
	}
}

// underAny reports whether path is one of roots or lies below one.
func underAny(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+".") {
			return true
		}
	}
	return false
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// typeErrorText turns a yaml decoding error into a short message.
func typeErrorText(err error, n *yaml.Node, t reflect.Type) string {
	var want string
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		want = "an integer"
	case reflect.Float64:
		want = "a number"
		// YAML reads NaN, Inf and out-of-range literals such as 1e400 as
		// strings.
		if f, err := strconv.ParseFloat(n.Value, 64); (err == nil || errors.Is(err, strconv.ErrRange)) && (math.IsNaN(f) || math.IsInf(f, 0)) {
			want = "a finite number"
		}
	case reflect.Bool:
		want = "true or false"
	case reflect.String:
		want = "a string"
	case reflect.Slice:
		want = "a list"
	default:
		want = t.String()
	}
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("must be %s, got %q", want, n.Value)
	}
	msg := err.Error()
	if i := strings.Index(msg, "cannot unmarshal "); i >= 0 {
		msg = msg[i:]
	}
	return "must be " + want + ": " + msg
}

// yamlFields maps the YAML keys of a struct type to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		out[tag] = f
	}
	return out
}

func sortedKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns the known key closest to key (edit distance ≤ 2, or a
// case/separator-insensitive match), or "".
func suggest(key string, fields map[string]reflect.StructField) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestD := "", 3
	for _, k := range sortedKeys(fields) {
		if norm(k) == norm(key) {
			return k
		}
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
