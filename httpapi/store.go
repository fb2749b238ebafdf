package httpapi

import (
	"context"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Node is what the API needs of its node besides the operations (which it
// reaches through service): its role and readiness, for the health and
// status routes, and the leader's side of followers' forwarded requests.
// consensus.Node in production.
type Node interface {
	Tree() *fsm.Tree
	Applied() int64
	Ready() bool
	Role() string
	ID() string
	LeaderPropose(ctx context.Context, cmd []byte) (fsm.Result, int64, error)
	LeaderReadIndex(ctx context.Context) (int64, error)
	LeaderKeepAlive(ids []api.ID) []api.ID
}
