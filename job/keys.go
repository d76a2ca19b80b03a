package job

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkNode walks a YAML node against the Go type it will be decoded into and
// records unknown keys (with a suggestion) and values of the wrong type, each
// with its key path. It lets Load report every problem of a file at once,
// where yaml.v3's strict mode stops at the first.
func checkNode(n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkNode(c, t, path, ps)
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
			ps.add(path, "must be a mapping of keys (line %d)", n.Line)
			return
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if seen[k.Value] {
				ps.add(p, "key given twice (line %d); keep one", k.Line)
				continue
			}
			seen[k.Value] = true
			f, ok := fields[k.Value]
			if !ok {
				msg := "unknown key (line %d)"
				if s := suggest(k.Value, fields); s != "" {
					msg += "; did you mean " + strconv.Quote(joinPath(path, s)) + "?"
				} else {
					msg += "; valid keys: " + strings.Join(sortedKeys(fields), ", ")
				}
				ps.add(p, msg, k.Line)
				continue
			}
			checkNode(v, f.Type, p, ps)
		}
		return
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			ps.add(path, "must be a list (line %d)", n.Line)
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), joinPath(path, strconv.Itoa(i)), ps)
		}
		return
	}
	// Leaf (scalar or list of scalars): decode into a fresh value of the
	// field's type to catch type errors with their path.
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		ps.add(path, "%s (line %d)", typeErrorText(err, t), n.Line)
		return
	}
	// yaml.v3 silently truncates 1.5 into an int field.
	if isInt(t) && n.Tag == "!!float" {
		ps.add(path, "must be an integer, got %s (line %d)", n.Value, n.Line)
	}
	if t.Kind() == reflect.Slice && isInt(t.Elem()) && n.Kind == yaml.SequenceNode {
		for i, c := range n.Content {
			if c.Tag == "!!float" {
				ps.add(joinPath(path, strconv.Itoa(i)), "must be an integer, got %s (line %d)", c.Value, c.Line)
			}
		}
	}
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

// typeErrorText turns a yaml decoding error into a short message.
func typeErrorText(err error, t reflect.Type) string {
	var want string
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		want = "an integer"
	case reflect.Float64:
		want = "a number"
	case reflect.Bool:
		want = "true or false"
	case reflect.String:
		want = "a string"
	case reflect.Slice:
		want = "a list"
	default:
		want = t.String()
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
