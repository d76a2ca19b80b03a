package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows training progress: a live bar on a terminal, or a plain
// line every few seconds when the output is a log file or CI.
type Progress struct {
	w         io.Writer
	bar       *progressbar.ProgressBar
	total     int
	startStep int
	start     time.Time
	lastLine  time.Time
	lineEvery time.Duration
	finished  bool
}

// NewProgress starts showing progress from step `done` of `total` on w
// (a terminal gets a bar).
func NewProgress(w io.Writer, done, total int) *Progress {
	p := &Progress{w: w, total: total, startStep: done, start: time.Now(), lineEvery: 10 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("training"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("step"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)
		_ = p.bar.Set(done)
	}
	return p
}

// Step records a completed step.
func (p *Progress) Step(r *StepResult) {
	done := r.Step - p.startStep
	elapsed := time.Since(p.start)
	rate := float64(done) / elapsed.Seconds()
	eta := time.Duration(float64(p.total-r.Step) / rate * float64(time.Second)).Round(time.Second)
	desc := fmt.Sprintf("loss %.4f (avg %.4f) lr %.2e", r.Loss, r.LossSmooth, r.LR)
	if p.bar != nil {
		p.bar.Describe(desc)
		_ = p.bar.Set(r.Step)
		return
	}
	if r.Step == p.total || r.Step == p.startStep+1 || time.Since(p.lastLine) >= p.lineEvery {
		p.lastLine = time.Now()
		fmt.Fprintf(p.w, "step %d/%d  %s  %.2f steps/s  ETA %s\n", r.Step, p.total, desc, rate, eta)
	}
}

// Printf prints a message without breaking the bar.
func (p *Progress) Printf(format string, args ...any) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.w, format, args...)
}

// Finish ends the bar (once).
func (p *Progress) Finish() {
	if p.bar != nil && !p.finished {
		p.finished = true
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
