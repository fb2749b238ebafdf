package testkit

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder stands in for a test that WaitFor fails: it keeps the
// message instead of stopping.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	WaitFor(t, time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("got %d calls, want 3", calls)
	}
}

func TestWaitForFailsWithWhatAndTheTimeWaited(t *testing.T) {
	r := &fatalRecorder{TB: t}
	WaitFor(r, 30*time.Millisecond, "the impossible", func() bool { return false })
	if got, want := r.msg, "the impossible: not within 30ms"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWaitExplainedFailsWithWhatTheConditionLastSaw(t *testing.T) {
	r := &fatalRecorder{TB: t}
	n := 0
	WaitExplained(r, 30*time.Millisecond, "n to reach 1000", func() (bool, string) {
		n++
		return false, fmt.Sprintf("n=%d", n)
	})
	if want := fmt.Sprintf("n to reach 1000: not within 30ms; last: n=%d", n); r.msg != want {
		t.Errorf("got %q, want %q", r.msg, want)
	}
}

func TestPollReturnsAnErrorInsteadOfFailing(t *testing.T) {
	if err := Poll(time.Second, func() (bool, string) { return true, "" }); err != nil {
		t.Errorf("a condition that holds: %v", err)
	}
	err := Poll(20*time.Millisecond, func() (bool, string) { return false, "still 0" })
	if err == nil || !strings.HasSuffix(err.Error(), "last: still 0") {
		t.Errorf("a condition that never holds: got %v, want an error ending in its last message", err)
	}
}
