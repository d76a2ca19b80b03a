package pipeline

import (
	"fmt"

	"github.com/flora-ml/flora/lora"
	"github.com/flora-ml/flora/model/flux2"
)

// AttachLoRAs applies adapters to the model, unmerged, each at its own
// scale, reporting each one and any warnings about its file.
func AttachLoRAs(m *flux2.Model, loras []LoRA, rep Reporter) error {
	for _, l := range loras {
		a, format, warnings, err := lora.Load(l.Path, &m.Config)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			rep.printf("warning: %s: %s", l.Path, w)
		}
		if err := lora.Attach(m, a, l.Scale, false); err != nil {
			return fmt.Errorf("%s: %w", l.Path, err)
		}
		rep.printf("lora %s (%s, %d layers) at scale %g", l.Path, format, len(a.Layers), l.Scale)
	}
	return nil
}
