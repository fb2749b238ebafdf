package httpapi

import (
	"context"
	"io"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Store is what the API needs of the replicated state: consensus.Node in
// production.
type Store interface {
	// Tree is the local replica, read after the consistency check.
	Tree() *fsm.Tree
	Propose(ctx context.Context, cmd *fsm.Command) (fsm.Result, int64, error)
	// Linearize returns once the local tree reflects every write committed
	// before the call.
	Linearize(ctx context.Context) error
	// Await returns once a read may be served locally: linearizable when
	// asked, and after minZxid has applied.
	Await(ctx context.Context, linearizable bool, minZxid int64) error
	Applied() int64
	CreateSession(ctx context.Context, timeoutMs int64, identity []string) (api.Session, int64, error)
	KeepAlive(ctx context.Context, id api.ID) (api.Session, error)
	SessionRemaining(id api.ID) (time.Duration, bool)
	Ready() bool
	Role() string
	ID() string

	// Cluster membership.
	Cluster() (api.Cluster, error)
	AddMember(ctx context.Context, m api.MemberRequest) error
	RemoveMember(ctx context.Context, id string) error
	// The leader's side of a follower's forwarded requests.
	LeaderPropose(ctx context.Context, cmd []byte) (fsm.Result, int64, error)
	LeaderReadIndex(ctx context.Context) (int64, error)
	LeaderKeepAlive(ids []api.ID) []api.ID
	// Backups.
	WriteBackup(w io.Writer) (int64, error)
	RestoreBackup(ctx context.Context, r io.Reader, size int64) error
}
