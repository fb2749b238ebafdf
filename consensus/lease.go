package consensus

import (
	"sync"
	"time"

	"github.com/canopy-coord/canopy/api"
)

// leaseClock holds session deadlines on the leader, on monotonic time. The
// replicated state holds sessions but never deadlines: a new leader gives
// every session a fresh lease of timeout + election time, so no session
// expires because leadership moved or a wall clock jumped.
type leaseClock struct {
	mu        sync.Mutex
	active    bool
	grace     time.Duration // added to every lease at promotion
	deadlines map[api.ID]time.Time
}

func newLeaseClock(grace time.Duration) *leaseClock {
	return &leaseClock{grace: grace}
}

// promote starts the clock with a fresh lease for every open session.
func (c *leaseClock) promote(now time.Time, sessions map[api.ID]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = true
	c.deadlines = make(map[api.ID]time.Time, len(sessions))
	for id, timeout := range sessions {
		c.deadlines[id] = now.Add(ms(timeout) + c.grace)
	}
}

// demote drops every timer: only the leader keeps time.
func (c *leaseClock) demote() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = false
	c.deadlines = nil
}

// touch renews a session's lease from now.
func (c *leaseClock) touch(id api.ID, timeoutMs int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active {
		c.deadlines[id] = time.Now().Add(ms(timeoutMs))
	}
}

// expired reconciles the clock with the open sessions (a session the clock
// has not seen gets a full lease, one that is gone is forgotten) and
// returns those past their deadline, forgetting them.
func (c *leaseClock) expired(now time.Time, sessions map[api.ID]int64) []api.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return nil
	}
	for id := range c.deadlines {
		if _, ok := sessions[id]; !ok {
			delete(c.deadlines, id)
		}
	}
	var out []api.ID
	for id, timeout := range sessions {
		dl, ok := c.deadlines[id]
		switch {
		case !ok:
			c.deadlines[id] = now.Add(ms(timeout))
		case now.After(dl):
			out = append(out, id)
			delete(c.deadlines, id)
		}
	}
	return out
}

func (c *leaseClock) remaining(id api.ID, now time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dl, ok := c.deadlines[id]
	if !c.active || !ok {
		return 0, false
	}
	return dl.Sub(now), true
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
