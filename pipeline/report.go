package pipeline

import (
	"fmt"
	"io"

	"github.com/flora-ml/flora/train"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventMessage is a line for people to read: Message.
	EventMessage EventKind = iota
	// EventProgress is the progress of a phase other than training steps:
	// Phase ("latents", "captions", "sampling") is Done of Total.
	EventProgress
	// EventStep is a finished training step: Step, and Result.
	EventStep
	// EventCheckpoint is a checkpoint saved after Step: Path is its folder.
	EventCheckpoint
	// EventPreview is a preview grid rendered after Step: Path is the PNG.
	EventPreview
	// EventImage is an image written by Sample: Path is the PNG.
	EventImage
)

// Event is one report of a running job, delivered to Reporter.OnEvent.
type Event struct {
	Kind EventKind
	// Message is the text of an EventMessage.
	Message string
	// Phase, Done and Total describe an EventProgress.
	Phase       string
	Done, Total int
	// Step is the training step of EventStep, EventCheckpoint and
	// EventPreview.
	Step int
	// Result is the training step's result (EventStep).
	Result *train.StepResult
	// Path is the file or folder written (EventCheckpoint, EventPreview,
	// EventImage).
	Path string
}

// Reporter receives what a job reports: Log gets the lines people read
// (messages, progress bars, tables), OnEvent the same as typed events.
// Either may be nil.
type Reporter struct {
	// Log receives human-readable progress; nil discards it.
	Log io.Writer
	// OnEvent is called for every event, on the job's goroutine.
	OnEvent func(Event)
}

// log is where human-readable output goes (never nil).
func (r Reporter) log() io.Writer {
	if r.Log == nil {
		return io.Discard
	}
	return r.Log
}

func (r Reporter) emit(e Event) {
	if r.OnEvent != nil {
		r.OnEvent(e)
	}
}

// printf writes a message line to Log and reports it as an EventMessage.
func (r Reporter) printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(r.log(), msg)
	r.emit(Event{Kind: EventMessage, Message: msg})
}

// progress returns a callback that reports a phase's progress: a
// self-overwriting line on Log (every 16 items and at the end) and an
// EventProgress per call.
func (r Reporter) progress(phase string) func(done, total int) {
	return func(done, total int) {
		r.emit(Event{Kind: EventProgress, Phase: phase, Done: done, Total: total})
		if done == total || done%16 == 0 {
			fmt.Fprintf(r.log(), "\r  %s %d/%d", phase, done, total)
			if done == total {
				fmt.Fprintln(r.log())
			}
		}
	}
}
