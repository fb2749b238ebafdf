package fsm

import (
	"sort"

	"github.com/canopy-coord/canopy/acl"
	"github.com/canopy-coord/canopy/api"
)

// Session timeouts are negotiated into this range (DESIGN §5).
const (
	MinSessionTimeout     = 2000
	MaxSessionTimeout     = 60000
	DefaultSessionTimeout = 10000
)

// ClampTimeout negotiates a requested timeout; 0 asks for the default.
func ClampTimeout(ms int64) int64 {
	switch {
	case ms == 0:
		return DefaultSessionTimeout
	case ms < MinSessionTimeout:
		return MinSessionTimeout
	case ms > MaxSessionTimeout:
		return MaxSessionTimeout
	}
	return ms
}

func (t *Tree) createSession(c *Command) *api.Error {
	if !ValidSessionID(c.Session) {
		return api.Errorf(api.CodeBadArguments, "", "%s cannot name a session", c.Session)
	}
	if _, ok := t.sessions[c.Session]; ok {
		return api.Errorf(api.CodeBadArguments, "", "session %s already exists", c.Session)
	}
	t.addSession(&session{
		id:         c.Session,
		timeout:    ClampTimeout(c.Timeout),
		ephemerals: make(map[string]struct{}),
		owner:      acl.Authenticated(c.Identity),
		addr:       addrOf(c.Identity),
	})
	return nil
}

// closeSession ends a session (closed by its client, or expired by the
// leader) and deletes its ephemerals in one step, in path order, so that every
// replica fires the same events. Expiring a session that is already gone does
// nothing; closing one is SessionExpired.
func (t *Tree) closeSession(zxid int64, c *Command) (Result, []api.Event) {
	s, ok := t.sessions[c.Session]
	if !ok {
		if c.Op == OpExpireSession {
			return Result{}, nil
		}
		return Result{Err: sessionExpired(c.Session)}, nil
	}
	if c.Op == OpCloseSession && !sessionAllows(s, c.Identity) {
		return Result{Err: sessionNoAuth(c.Session)}, nil
	}
	paths := make([]string, 0, len(s.ephemerals))
	for p := range s.ephemerals {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	x := t.newTxn(zxid, c.Time)
	for _, p := range paths {
		x.remove(p)
	}
	events := x.commit()
	t.removeSession(s)
	return Result{}, events
}
