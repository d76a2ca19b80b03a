package pipeline

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flora-ml/flora/job"
	"github.com/flora-ml/flora/train"
)

// TestPlanAgainstBudget plans the tiny demo job: the embedded variant, the
// estimate of its own input, no text-encoder phase (the embedded model's is
// tiny and loads with it); an unknown budget fits, a budget below the
// estimate does not and Check names both sizes.
func TestPlanAgainstBudget(t *testing.T) {
	cfg, err := job.Load("../examples/tiny/train.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Plan(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Variant.Name != "embedded-nano" || p.Input.Resolution != 64 || p.Input.Batch != cfg.Train.BatchSize || p.TextEncoderBytes != 0 {
		t.Errorf("plan: variant %s, resolution %d, batch %d, text encoder %d", p.Variant.Name, p.Input.Resolution, p.Input.Batch, p.TextEncoderBytes)
	}
	if got := train.EstimateMemory(p.Input).Total; p.Memory.Total != got || got <= 0 {
		t.Errorf("plan total %d, estimate of its input %d", p.Memory.Total, got)
	}
	if !p.Fits() || p.Check() != nil {
		t.Errorf("an unknown budget must fit: %v", p.Check())
	}
	small, err := Plan(cfg, p.Memory.Total/2)
	if err != nil {
		t.Fatal(err)
	}
	if small.Fits() || small.Check() == nil || !strings.Contains(small.Check().Error(), "does not fit") {
		t.Errorf("half the estimate fits: %v", small.Check())
	}
	var grid bytes.Buffer
	if err := p.WriteGrid(&grid); err != nil || !strings.Contains(grid.String(), "checkpointing off") {
		t.Errorf("grid %q, %v", grid.String(), err)
	}
}

// TestReporter: a message reaches both the log and the event callback;
// progress is an event per call and a line every 16 items and at the end.
func TestReporter(t *testing.T) {
	var log bytes.Buffer
	var events []Event
	r := Reporter{Log: &log, OnEvent: func(e Event) { events = append(events, e) }}
	r.printf("loaded %d", 3)
	p := r.progress("latents")
	for i := 1; i <= 20; i++ {
		p(i, 20)
	}
	if len(events) != 21 || events[0].Kind != EventMessage || events[0].Message != "loaded 3" ||
		events[20].Kind != EventProgress || events[20].Phase != "latents" || events[20].Done != 20 {
		t.Errorf("events %+v", events)
	}
	if want := "loaded 3\n\r  latents 16/20\r  latents 20/20\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
	Reporter{}.printf("nowhere") // no log, no callback: nothing to do, no panic
}
