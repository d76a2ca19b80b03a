package tensorload

import "fmt"

// LayoutAndConfig detects the naming scheme of src with rule and returns it
// with the architecture: *given when set, otherwise what infer reads off
// the tensor shapes. Errors name the source.
func LayoutAndConfig[S Source, C any](src S, sourceName string, rule LayoutRule, given *C, infer func(S, Layout) (C, error)) (Layout, C, error) {
	var cfg C
	layout, err := rule.Detect(src.Names())
	if err != nil {
		return layout, cfg, fmt.Errorf("%s: %w", sourceName, err)
	}
	if given != nil {
		return layout, *given, nil
	}
	if cfg, err = infer(src, layout); err != nil {
		return layout, cfg, fmt.Errorf("%s: inferring the %s architecture: %w", sourceName, rule.Part, err)
	}
	return layout, cfg, nil
}
