package main

import (
	"errors"

	"github.com/flora-ml/flora/model/flux2"
)

// attachLoRAs applies FILE[:scale] adapters to the model.
func attachLoRAs(m *flux2.Model, specs []string) error {
	return errors.New("--lora needs the LoRA file formats (coming with the lora formats work)")
}
