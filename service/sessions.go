package service

import (
	"context"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// ParseSessionID reads a session id as clients send it ("0x1f3a"): a
// malformed one is BadArguments, wherever it comes from.
func ParseSessionID(raw string) (api.ID, error) {
	id, err := api.ParseID(raw)
	if err != nil || id == 0 {
		return 0, api.BadArguments("", "malformed session id %q: want a hex id like 0x1f3a", raw)
	}
	return id, nil
}

// OpenSession opens a session; the timeout is negotiated into [2 s, 60 s]
// (0 is the default, 10 s).
func (s *Service) OpenSession(ctx context.Context, timeoutMs int64) (api.Session, int64, error) {
	if timeoutMs < 0 {
		return api.Session{}, s.node.Applied(), api.BadArguments("", "timeout_ms must not be negative, got %d", timeoutMs)
	}
	if err := s.checkSessions(ctx); err != nil {
		return api.Session{}, s.node.Applied(), err
	}
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	sess, zxid, err := s.node.CreateSession(ctx, timeoutMs, CallerOf(ctx).Identity)
	s.audit(ctx, "createSession", "", sess.ID, zxid, err)
	if err != nil {
		return api.Session{}, s.node.Applied(), err
	}
	return sess, zxid, nil
}

// KeepAlive renews a session's lease; it answers once the renewal has
// reached the leader. A session belongs to its opener (DESIGN §9): anyone
// else is NoAuth.
func (s *Service) KeepAlive(ctx context.Context, id api.ID) (api.Session, error) {
	if err := s.checkSession(ctx, id); err != nil {
		return api.Session{}, err
	}
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	return s.node.KeepAlive(ctx, id)
}

// Touch is the keep-alive that any request within a session is (as any
// request on a ZooKeeper connection is): only a session that is gone, or
// another identity's, is an error; a keep-alive that could not reach the
// leader right now is not the request's failure.
func (s *Service) Touch(ctx context.Context, id api.ID) error {
	if _, err := s.KeepAlive(ctx, id); api.CodeOf(err) == api.CodeSessionExpired || api.CodeOf(err) == api.CodeNoAuth {
		return err
	}
	return nil
}

// CloseSession closes a session and deletes its ephemerals; it returns
// the zxid of the close.
func (s *Service) CloseSession(ctx context.Context, id api.ID) (int64, error) {
	_, zxid, err := s.propose(ctx, &fsm.Command{Op: fsm.OpCloseSession, Session: id}) // the state machine checks the owner
	return zxid, err
}

// Session describes one session, with its ephemerals.
func (s *Service) Session(ctx context.Context, id api.ID, c Consistency) (api.Session, int64, error) {
	if err := s.await(ctx, c); err != nil {
		return api.Session{}, s.node.Applied(), err
	}
	info, zxid, err := s.node.Tree().Session(id)
	if err != nil {
		return api.Session{}, zxid, err
	}
	return s.session(info), zxid, nil
}

// Sessions lists the open sessions.
func (s *Service) Sessions(ctx context.Context, c Consistency) ([]api.Session, int64, error) {
	if err := s.await(ctx, c); err != nil {
		return nil, s.node.Applied(), err
	}
	infos, zxid := s.node.Tree().Sessions()
	out := make([]api.Session, len(infos))
	for i, info := range infos {
		out[i] = s.session(info)
	}
	return out, zxid, nil
}

func (s *Service) session(info fsm.SessionInfo) api.Session {
	sess := api.Session{ID: info.ID, TimeoutMs: info.TimeoutMs, Ephemerals: info.Ephemerals}
	if left, ok := s.node.SessionRemaining(info.ID); ok {
		ms := left.Milliseconds()
		sess.ExpiresInMs = &ms
	}
	return sess
}
