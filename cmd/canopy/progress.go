package main

import (
	"fmt"
	"io"
	"time"
)

// progress shows a long operation's advance on one rewritten line of
// stderr, and only when stderr is a terminal: never in pipes, logs or
// tests. A nil *progress shows nothing, so callers need not check.
type progress struct {
	w     io.Writer
	what  string // "exporting"
	total int    // 0: unknown
	last  time.Time
	shown bool
}

// newProgress returns nil unless e's stderr is a terminal.
func (e *env) newProgress(what string, total int) *progress {
	if !terminal(e.stderr) {
		return nil
	}
	return &progress{w: e.stderr, what: what, total: total}
}

// begin shows the start of a step that end completes on the same line:
// "deleting 12 nodes..." then " done".
func (p *progress) begin(format string, args ...any) {
	if p == nil {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, format, args...)
}

func (p *progress) end(msg string) {
	if p != nil {
		fmt.Fprintln(p.w, " "+msg)
	}
}

// phase starts a new stage: "exporting" of total nodes (0: unknown).
func (p *progress) phase(what string, total int) {
	if p != nil {
		p.what, p.total, p.last = what, total, time.Time{}
	}
}

// update shows n done, at most ten times a second.
func (p *progress) update(n int) {
	if p == nil || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%s: %d/%d nodes (%d%%)", p.what, n, p.total, n*100/p.total)
	} else {
		fmt.Fprintf(p.w, "\r\033[K%s: %d nodes", p.what, n)
	}
}

// clear erases the progress line.
func (p *progress) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
