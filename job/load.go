package job

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flora-ml/flora/internal/fsutil"
)

// MaxConfigBytes bounds the size of a job config file (real ones are a few
// KiB); a larger file, a named pipe or a device is refused before reading.
const MaxConfigBytes = 1 << 20

// Load reads the YAML job file at path, applies the `--set` overrides
// ("path.to.key=value", the value parsed as YAML), resolves input paths
// relative to the file's folder and validates the result. Every problem —
// unknown keys, wrong types, invalid values — is reported at once in a
// *Problems error.
func Load(path string, sets []string) (*Config, error) {
	data, err := fsutil.ReadFileLimited(path, MaxConfigBytes, "a job config")
	if err != nil {
		return nil, fmt.Errorf("reading job config: %w", err)
	}
	cfg, err := Parse(data, path, sets)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse is Load for configuration bytes; source names them in errors and its
// folder is the base of relative input paths ("" means the working folder).
func Parse(data []byte, source string, sets []string) (*Config, error) {
	ps := &Problems{Source: source}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		ps.add("", "not valid YAML: %v", err)
		return nil, ps
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	for _, s := range sets {
		if err := applySet(root, s); err != nil {
			ps.add("--set "+s, "%v", err)
		}
	}
	chk := &checker{ps: ps}
	chk.check(root, reflect.TypeOf(Config{}), "")
	cfg := Default()
	if err := root.Decode(cfg); err != nil && len(ps.List) == 0 {
		// checkNode found every type error with its path already; anything
		// else is unexpected but still reported.
		ps.add("", "decoding: %v", err)
	}
	cfg.normalize()
	base := ""
	if source != "" {
		base = filepath.Dir(source)
	}
	cfg.resolveInputPaths(base)
	// Validate even when keys or types were wrong, so that one run reports
	// every problem; fields that failed to decode keep valid defaults.
	if err := cfg.Validate(); err != nil {
		for _, p := range err.(*Problems).List {
			if !underAny(p.Path, chk.dups) {
				ps.List = append(ps.List, p)
			}
		}
	}
	if len(ps.List) > 0 {
		return nil, ps
	}
	return cfg, nil
}

// applySet sets one "a.b.c=value" override on the YAML tree, creating
// mappings as needed. Numeric path elements index lists
// (dataset.folders.0.path). A mapping value is merged into an existing
// mapping key by key (--set 'train={steps: 5}' changes only train.steps);
// any other value replaces the old one.
func applySet(root *yaml.Node, set string) error {
	key, value, ok := strings.Cut(set, "=")
	if !ok || key == "" {
		return fmt.Errorf("must be path.to.key=value, e.g. train.lr=2e-4")
	}
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("the key path %q is malformed (an empty part between dots); write path.to.key=value, e.g. train.lr=2e-4", key)
		}
	}
	var vdoc yaml.Node
	var val *yaml.Node
	if err := yaml.Unmarshal([]byte(value), &vdoc); err == nil && len(vdoc.Content) == 1 {
		val = vdoc.Content[0]
	} else {
		val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	}
	// Line 0 marks the nodes of an override, so problems with them say
	// "from --set" rather than a line of the file.
	clearLines(val)
	n := root
	for i, part := range parts {
		last := i == len(parts)-1
		switch n.Kind {
		case yaml.MappingNode:
			var child *yaml.Node
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == part {
					child = n.Content[j+1]
					if last {
						n.Content[j+1] = mergeNode(child, val)
					}
					break
				}
			}
			if child == nil {
				child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				if !last && isIndex(parts[i+1]) {
					child = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
				}
				if last {
					child = val
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: part}, child)
			}
			n = child
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(part)
			if err != nil || idx < 0 || idx > len(n.Content) {
				return fmt.Errorf("%q is not a valid index into %s (0..%d)", part, strings.Join(parts[:i], "."), len(n.Content))
			}
			if idx == len(n.Content) {
				elem := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				if !last && isIndex(parts[i+1]) {
					elem = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
				}
				n.Content = append(n.Content, elem)
			}
			if last {
				n.Content[idx] = mergeNode(n.Content[idx], val)
			}
			n = n.Content[idx]
		case yaml.ScalarNode:
			if n.Tag == "!!null" {
				n.Kind, n.Tag, n.Value = yaml.MappingNode, "!!map", ""
				// Re-enter this element as a mapping.
				return applySet(root, set)
			}
			return fmt.Errorf("%s is a value, not a mapping", strings.Join(parts[:i], "."))
		default:
			return fmt.Errorf("cannot set into %s", strings.Join(parts[:i], "."))
		}
	}
	return nil
}

// mergeNode returns what replaces old when val is set over it: a mapping
// over a mapping merges key by key (recursively), anything else is val.
func mergeNode(old, val *yaml.Node) *yaml.Node {
	if old.Kind == yaml.AliasNode {
		old = old.Alias
	}
	if old.Kind != yaml.MappingNode || val.Kind != yaml.MappingNode {
		return val
	}
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: old.Tag, Line: old.Line, Column: old.Column,
		Content: append([]*yaml.Node(nil), old.Content...)}
	for i := 0; i+1 < len(val.Content); i += 2 {
		k, v := val.Content[i], val.Content[i+1]
		found := false
		for j := 0; j+1 < len(merged.Content); j += 2 {
			if merged.Content[j].Value == k.Value {
				merged.Content[j+1] = mergeNode(merged.Content[j+1], v)
				found = true
				break
			}
		}
		if !found {
			merged.Content = append(merged.Content, k, v)
		}
	}
	return merged
}

// clearLines sets Line to 0 on n and everything below it.
func clearLines(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		clearLines(c)
	}
}

// normalize turns empty lists into nil so that a printed and re-read
// configuration compares equal to the original.
func (c *Config) normalize() {
	nilIfEmpty := func(s *[]string) {
		if len(*s) == 0 {
			*s = nil
		}
	}
	nilIfEmpty(&c.Adapter.Include)
	nilIfEmpty(&c.Model.QuantizeKeep)
	nilIfEmpty(&c.Adapter.Exclude)
	nilIfEmpty(&c.Sample.Prompts)
	nilIfEmpty(&c.Sample.References)
	nilIfEmpty(&c.Output.Formats)
	if len(c.Adapter.Overrides) == 0 {
		c.Adapter.Overrides = nil
	}
	if len(c.Dataset.Folders) == 0 {
		c.Dataset.Folders = nil
	}
	if len(c.Dataset.Resolutions) == 0 {
		c.Dataset.Resolutions = nil
	}
	if len(c.Sample.Seeds) == 0 {
		c.Sample.Seeds = nil
	}
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// resolveInputPaths makes relative input paths relative to base (the config
// file's folder), so a job file can name its data next to itself. Outputs
// (output.dir, dataset.cache_dir) stay relative to the working folder.
func (c *Config) resolveInputPaths(base string) {
	if base == "" {
		return
	}
	abs := func(p *string) {
		if *p == "" || filepath.IsAbs(*p) || strings.HasPrefix(*p, "embedded:") || strings.HasPrefix(*p, "random:") {
			return
		}
		*p = filepath.Join(base, *p)
	}
	abs(&c.Model.Path)
	abs(&c.Model.VAE)
	abs(&c.Model.TextEncoder)
	abs(&c.Adapter.InitFrom)
	abs(&c.Dataset.Embeddings)
	abs(&c.Dataset.Validation)
	for i := range c.Sample.References {
		abs(&c.Sample.References[i])
	}
	for i := range c.Dataset.Folders {
		abs(&c.Dataset.Folders[i].Path)
		abs(&c.Dataset.Folders[i].Control)
		abs(&c.Dataset.Folders[i].Masks)
	}
}

// YAML renders the resolved configuration (what --print-config shows).
func (c *Config) YAML() (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("encoding config: %w", err)
	}
	return b.String(), enc.Close()
}
