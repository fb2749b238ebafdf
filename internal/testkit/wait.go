package testkit

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// pollEvery is how often a condition is checked: often enough that a wait
// ends soon after the condition holds, rarely enough that a condition that
// makes a request does not load the node it waits on.
const pollEvery = 10 * time.Millisecond

// WaitFor checks cond every 10 ms until it holds, and fails t with what
// once within has passed. Call it from the test's goroutine; elsewhere use
// Poll.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if Poll(within, func() (bool, string) { return cond(), "" }) != nil {
		t.Fatalf("%s: not within %v", what, within)
	}
}

// WaitExplained is WaitFor for a condition that also says what it last saw
// (a status, a value), so that the failure shows how far things got.
func WaitExplained(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if err := Poll(within, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Poll checks cond every 10 ms until it holds (nil) or within has passed
// (an error with what cond last saw). It is for callers that must not stop
// the test: goroutines, cleanups, a TestMain.
func Poll(within time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v; last: %s", within, last)
		}
		time.Sleep(pollEvery)
	}
}

// Rounds is how many rounds a repeated test runs: def, or the count in the
// environment variable env (for a longer hunt).
func Rounds(t testing.TB, env string, def int) int {
	t.Helper()
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a count of rounds", env, s)
	}
	return n
}
