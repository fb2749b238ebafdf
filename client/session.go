package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// Session is a ZooKeeper session: the owner of ephemeral nodes, kept alive
// by the client in the background while it lives. Its embedded Client makes
// every call within the session (ephemeral creates belong to it).
//
// Done is closed when the session ends: closed, expired by the cluster, or
// lost — no keep-alive acknowledged for a whole timeout, so the cluster may
// have expired it. Err says which. Whatever the session held (a lock, a
// leadership) must be taken as gone from then on.
type Session struct {
	*Client
	id      ID
	timeout time.Duration

	stop context.CancelFunc
	done chan struct{}

	mu       sync.Mutex
	err      error
	stopped  chan struct{}
	deadline atomic.Int64 // unix nanoseconds
}

// NewSession opens a session with the given timeout (the server clamps it
// to [2 s, 60 s]; 0 means its default of 10 s).
func (c *Client) NewSession(ctx context.Context, timeout time.Duration) (*Session, error) {
	body, _ := json.Marshal(api.SessionRequest{TimeoutMs: timeout.Milliseconds()})
	var out api.Session
	// An extra session, should a retry make one, expires by itself.
	if err := c.call(ctx, &request{method: http.MethodPost, route: "/v1/sessions", body: body, idempotent: true}, &out); err != nil {
		return nil, err
	}
	return c.keep(out.ID, time.Duration(out.TimeoutMs)*time.Millisecond, time.Now()), nil
}

// ResumeSession keeps alive a session opened elsewhere (by another process
// of the same application, say), and makes calls within it.
func (c *Client) ResumeSession(ctx context.Context, id ID) (*Session, error) {
	sent := time.Now()
	info, err := c.keepAlive(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.keep(id, time.Duration(info.TimeoutMs)*time.Millisecond, sent), nil
}

func (c *Client) keep(id ID, timeout time.Duration, acked time.Time) *Session {
	ctx, stop := context.WithCancel(context.Background())
	s := &Session{Client: c.InSession(id), id: id, timeout: timeout, stop: stop, done: make(chan struct{}), stopped: make(chan struct{})}
	s.setDeadline(acked.Add(timeout))
	go s.keepAlive(ctx, acked)
	return s
}

// ID is the session's id.
func (s *Session) ID() ID { return s.id }

// Timeout is the session's negotiated timeout.
func (s *Session) Timeout() time.Duration { return s.timeout }

// Done is closed when the session has ended or is lost.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is nil while the session lives, then ErrClosed, an error matching
// ErrSessionExpired, or ErrSessionLost.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Session) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.done)
	}
}

// keepAlive sends a keep-alive every third of the timeout, sooner after a
// failure. The session counts as alive until a timeout after the sending of
// the last keep-alive acknowledged: Done closes at that deadline, not
// later, even while a keep-alive is still waiting for its answer.
func (s *Session) keepAlive(ctx context.Context, acked time.Time) {
	defer close(s.stopped)
	interval := s.timeout / 3
	for {
		deadline := acked.Add(s.timeout)
		wait := interval
		if time.Since(acked) > interval {
			wait = s.timeout / 15 // behind: try again soon
		}
		if !ctxtime.Sleep(ctx, min(wait, time.Until(deadline))) {
			return
		}
		if !time.Now().Before(deadline) {
			s.end(ErrSessionLost)
			s.closeQuietly()
			return
		}
		sent := time.Now()
		cctx, cancel := context.WithDeadline(ctx, deadline)
		_, err := s.Client.keepAlive(cctx, s.id)
		cancel()
		switch {
		case err == nil:
			acked = sent
			s.setDeadline(acked.Add(s.timeout))
		case errors.Is(err, ErrSessionExpired):
			s.end(err)
			return
		}
	}
}

// Deadline is when the session will count as lost unless a keep-alive is
// acknowledged before: the sending time of the last one acknowledged plus
// the timeout. The cluster cannot have expired the session before it.
func (s *Session) Deadline() time.Time {
	return time.Unix(0, s.deadline.Load())
}

func (s *Session) setDeadline(t time.Time) { s.deadline.Store(t.UnixNano()) }

// closeQuietly tells the cluster a lost session is done with, in case it
// still lives, so its ephemerals go at once rather than at its expiry.
func (s *Session) closeQuietly() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.Client.CloseSession(ctx, s.id)
}

// Close closes the session: its ephemeral nodes are deleted by the time it
// returns. Closing an ended session is harmless.
func (s *Session) Close(ctx context.Context) error {
	s.stop()
	<-s.stopped
	err := s.Client.CloseSession(ctx, s.id)
	if errors.Is(err, ErrSessionExpired) {
		err = nil
	}
	s.end(ErrClosed)
	return err
}

// InSession returns a view of c whose calls are made within the session
// id (its ephemeral creates belong to it), without keeping it alive: for a
// session another process owns and keeps.
func (c *Client) InSession(id ID) *Client {
	v := *c
	v.session = id.String()
	return &v
}

// CloseSession closes the session id, wherever it was opened: its
// ephemeral nodes are deleted by the time it returns. A session already
// gone is ErrSessionExpired.
func (c *Client) CloseSession(ctx context.Context, id ID) error {
	return c.call(ctx, &request{method: http.MethodDelete, route: "/v1/sessions/" + id.String(), idempotent: true}, nil)
}

func (c *Client) keepAlive(ctx context.Context, id ID) (api.Session, error) {
	var out api.Session
	err := c.call(ctx, &request{method: http.MethodPost, route: "/v1/sessions/" + id.String() + "/keepalive", idempotent: true}, &out)
	return out, err
}

// SessionInfo describes a session, with its ephemeral nodes.
func (c *Client) SessionInfo(ctx context.Context, id ID) (api.Session, error) {
	var out api.Session
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/sessions/" + id.String(), idempotent: true}, &out)
	return out, err
}

// Sessions lists the open sessions.
func (c *Client) Sessions(ctx context.Context) ([]api.Session, error) {
	var out api.SessionList
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/sessions", idempotent: true}, &out)
	return out.Sessions, err
}
