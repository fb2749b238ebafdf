package service

import (
	"context"
	"io"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Consensus is what the operations need of the replicated state: a
// consensus.Node in production.
type Consensus interface {
	// Tree is the local replica, read after the consistency wait.
	Tree() *fsm.Tree
	Propose(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error)
	// Linearize returns once the local tree reflects every write committed
	// before the call.
	Linearize(ctx context.Context) error
	// WaitApplied returns once the local tree has applied zxid.
	WaitApplied(ctx context.Context, zxid int64) error
	Applied() int64
	CreateSession(ctx context.Context, timeoutMs int64, identity []string) (api.Session, int64, error)
	KeepAlive(ctx context.Context, id api.ID) (api.Session, error)
	SessionRemaining(id api.ID) (time.Duration, bool)
	Cluster() (api.Cluster, error)
	AddMember(ctx context.Context, m api.MemberRequest) error
	RemoveMember(ctx context.Context, id string) error
	WriteBackup(w io.Writer) (int64, error)
	RestoreBackup(ctx context.Context, r io.Reader, size int64) error
}

// Service runs the operations over a node, within the limits.
type Service struct {
	node     Consensus
	limits   Limits
	security Security
}

// New returns the operations over node; unset limits take their defaults.
func New(node Consensus, limits Limits) *Service {
	return &Service{node: node, limits: limits.WithDefaults()}
}

// WithSecurity sets the access control in force; call it before serving.
func (s *Service) WithSecurity(sec Security) *Service {
	s.security = sec
	return s
}

// Limits are the limits in force.
func (s *Service) Limits() Limits { return s.limits }

// Applied is the zxid the local tree has applied: what an answer without a
// zxid of its own reflects.
func (s *Service) Applied() int64 { return s.node.Applied() }

// Counts are the local tree's sizes, for status and metrics.
type Counts = fsm.Counts

// Counts returns the local tree's sizes.
func (s *Service) Counts() Counts { return s.node.Tree().Counts() }

// ChildPage is one page of a node's children.
type ChildPage = fsm.ChildPage

// withDeadline bounds a request that carries no deadline of its own.
func (s *Service) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.limits.RequestTimeout)
}

// propose commits cmd as the caller in ctx (its identity stamped in, for
// the state machine's checks) and audits it; an application failure
// (NoNode, BadVersion, NoAuth...) is the error, with the zxid of the entry
// that failed.
func (s *Service) propose(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error) {
	res, zxid, err := s.commit(ctx, cmd)
	s.audit(ctx, cmd.Op.String(), auditPath(cmd, res), cmd.Session, zxid, err)
	return res, zxid, err
}

func (s *Service) commit(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error) {
	cmd.Identity = CallerOf(ctx).Identity
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	res, zxid, err := s.node.Propose(ctx, cmd)
	if err != nil {
		return res, s.node.Applied(), err
	}
	if res.Err != nil {
		return res, zxid, res.Err
	}
	return res, zxid, nil
}

// auditPath is the path an audit record names: the node created (with its
// sequence suffix), else the command's.
func auditPath(cmd *fsm.Command, res fsm.Result) string {
	if res.Path != "" {
		return res.Path
	}
	return cmd.Path
}

// CheckPath validates a znode path: its length, then ZooKeeper's rules.
func (s *Service) CheckPath(p string) error {
	if len(p) > s.limits.MaxPathBytes {
		return api.BadArguments(clip(p), "path is %d bytes, over the limit of %d", len(p), s.limits.MaxPathBytes)
	}
	return fsm.ValidatePath(p)
}

// clip shortens a path for an error message: the caller has the whole.
func clip(p string) string {
	if len(p) > 256 {
		return p[:256] + "..."
	}
	return p
}
