package consensus

import (
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
)

func TestLeaseClockGivesAFreshLeasePlusGraceOnPromotion(t *testing.T) {
	c := newLeaseClock(time.Second)
	now := time.Now()
	c.promote(now, map[api.ID]int64{1: 2000})
	if got := c.expired(now.Add(2900*time.Millisecond), map[api.ID]int64{1: 2000}); len(got) != 0 {
		t.Fatalf("expired %v within timeout + grace", got)
	}
	if got := c.expired(now.Add(3100*time.Millisecond), map[api.ID]int64{1: 2000}); len(got) != 1 {
		t.Fatalf("expired %v after timeout + grace, want [0x1]", got)
	}
}

func TestLeaseClockForgetsEverythingOnDemotion(t *testing.T) {
	c := newLeaseClock(0)
	now := time.Now()
	c.promote(now, map[api.ID]int64{1: 2000})
	c.demote()
	if got := c.expired(now.Add(time.Hour), map[api.ID]int64{1: 2000}); got != nil {
		t.Fatalf("a follower expired %v", got)
	}
	if _, ok := c.remaining(1, now); ok {
		t.Fatal("a follower claims to know a lease")
	}
}

func TestLeaseClockGivesUnseenSessionsAFullLease(t *testing.T) {
	c := newLeaseClock(0)
	now := time.Now()
	c.promote(now, nil)
	sessions := map[api.ID]int64{7: 2000}
	if got := c.expired(now, sessions); len(got) != 0 {
		t.Fatalf("new session expired at once: %v", got)
	}
	if got := c.expired(now.Add(1900*time.Millisecond), sessions); len(got) != 0 {
		t.Fatalf("new session expired before its timeout: %v", got)
	}
	if got := c.expired(now.Add(2100*time.Millisecond), sessions); len(got) != 1 {
		t.Fatalf("new session not expired after its timeout: %v", got)
	}
}
