package client

import (
	"errors"

	"github.com/canopy-coord/canopy/api"
)

// The API's errors, for errors.Is: every error a server answers is an
// *api.Error carrying its code, message and path, and matches the sentinel
// of its code.
//
//	if _, err := c.Get(ctx, "/a"); errors.Is(err, client.ErrNoNode) { ... }
var (
	ErrNoNode                  = &api.Error{Code: api.CodeNoNode}
	ErrNodeExists              = &api.Error{Code: api.CodeNodeExists}
	ErrNotEmpty                = &api.Error{Code: api.CodeNotEmpty}
	ErrNoChildrenForEphemerals = &api.Error{Code: api.CodeNoChildrenForEphemerals}
	ErrBadVersion              = &api.Error{Code: api.CodeBadVersion}
	ErrBadArguments            = &api.Error{Code: api.CodeBadArguments}
	ErrInvalidACL              = &api.Error{Code: api.CodeInvalidACL}
	ErrAuthFailed              = &api.Error{Code: api.CodeAuthFailed}
	ErrNoAuth                  = &api.Error{Code: api.CodeNoAuth}
	ErrSessionExpired          = &api.Error{Code: api.CodeSessionExpired}
	ErrTooLarge                = &api.Error{Code: api.CodeTooLarge}
	ErrQuotaExceeded           = &api.Error{Code: api.CodeQuotaExceeded}
	ErrNoWatcher               = &api.Error{Code: api.CodeNoWatcher}
	ErrThrottled               = &api.Error{Code: api.CodeThrottled}
	ErrUnavailable             = &api.Error{Code: api.CodeUnavailable}
	ErrOperationTimeout        = &api.Error{Code: api.CodeOperationTimeout}
	ErrCompacted               = &api.Error{Code: api.CodeCompacted}
	ErrRuntimeInconsistency    = &api.Error{Code: api.CodeRuntimeInconsistency}
	ErrSystemError             = &api.Error{Code: api.CodeSystemError}
)

// Errors of the client itself.
var (
	// ErrConnectionLoss: a write was sent and no answer came back. It may
	// or may not have been applied; re-read before retrying (a write
	// answered ErrUnavailable or ErrOperationTimeout is in the same case).
	ErrConnectionLoss = errors.New("canopy: connection lost before the answer: the write may or may not have been applied")
	// ErrSessionLost: no keep-alive of the session was acknowledged within
	// its timeout. The cluster may have expired it; whatever it held (locks,
	// leadership) must be assumed gone.
	ErrSessionLost = errors.New("canopy: session lost: no keep-alive acknowledged within its timeout")
	// ErrClosed: the client or session was closed.
	ErrClosed = errors.New("canopy: closed")
)

// Code returns the API code of err (api.CodeSystemError for an error that
// carries none, such as a connection failure).
func Code(err error) api.Code { return api.CodeOf(err) }
