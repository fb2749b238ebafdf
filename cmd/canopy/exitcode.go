package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
)

// Exit codes, documented in 'canopy help' and docs/cli.md. Scripts branch
// on them, so they only ever grow.
const (
	exitOK          = 0
	exitError       = 1   // any other error
	exitUsage       = 2   // bad flags or arguments
	exitNoNode      = 3   // NoNode
	exitConflict    = 4   // NodeExists, NotEmpty, NoChildrenForEphemerals
	exitBadVersion  = 5   // BadVersion
	exitUnavailable = 6   // cannot reach the cluster, Unavailable, timeouts, connection lost
	exitSession     = 7   // SessionExpired, a session lost, or what it held lost
	exitWait        = 8   // --wait ran out
	exitAuth        = 9   // NoAuth, AuthFailed
	exitCannotRun   = 126 // the command of lock, elect, group join cannot be run
	exitNotFound    = 127 // ... is not found
	exitInterrupted = 130
)

const exitCodesHelp = `Exit codes:
  0  success
  1  other error
  2  usage error (bad flags or arguments)
  3  NoNode: the node does not exist
  4  NodeExists, NotEmpty or NoChildrenForEphemerals
  5  BadVersion: the version given does not match
  6  the cluster is unreachable or unavailable, a call timed out, or the
     connection was lost before the answer (a write may have happened)
  7  SessionExpired, or the session was lost; for lock, elect and group
     join, what they held was lost (their command got SIGTERM)
  8  --wait ran out before the lock, leadership, an item or the barrier
  9  NoAuth: the node's ACL does not allow it; AuthFailed: the server
     refused the credentials (or requires some)
  130 interrupted
lock, elect and group join ... -- COMMAND exit with COMMAND's exit status
once it has run (128+N when signal N killed it; 126 when it cannot be run,
127 when it is not found), unless what they held was lost (7) or canopy was
interrupted (130).
`

// usageError is a mistake in the command line. verb is the verb whose
// usage to show (nil: the general one; group: a group's verbs).
type usageError struct {
	verb  *verb
	group string
	msg   string
}

func (e *usageError) Error() string { return e.msg }

// commandError is the failure of the command a holding verb runs (lock,
// elect, group join -- COMMAND): canopy exits with code, the command's
// own exit status when it ran.
type commandError struct {
	name string
	code int
	err  error
	ran  bool // it ran and failed: it has said why itself
}

func (e *commandError) Error() string {
	if e.ran {
		return e.name + ": " + e.err.Error()
	}
	err := e.err
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err // without exec's repetition of the name
	}
	return fmt.Sprintf("cannot run %s: %v", e.name, err)
}
func (e *commandError) Unwrap() error { return e.err }

// holdLostError: what a holding verb held (what: "the lock") was lost,
// while its command ran (command) or while it waited to be interrupted.
type holdLostError struct {
	what    string
	command string
	err     error // why: the lock's Err, the session's
}

func (e *holdLostError) Error() string {
	if e.command == "" {
		return fmt.Sprintf("%s was lost: %v", e.what, e.err)
	}
	return fmt.Sprintf("%s was lost while %s ran (sent it SIGTERM): %v", e.what, e.command, e.err)
}

func (e *holdLostError) Unwrap() error { return e.err }

// waitError: --wait ran out before what a verb waited for came.
type waitError struct {
	what string // "the lock"
	wait time.Duration
}

func (e *waitError) Error() string {
	return fmt.Sprintf("gave up waiting for %s after %v (--wait)", e.what, e.wait)
}

func (e *waitError) Unwrap() error { return context.DeadlineExceeded }

// opError is a failed operation: op names it ("get /a").
type opError struct {
	op      string
	path    string // the node op is about, if any
	err     error
	servers []string
	timeout time.Duration
}

func (e *opError) Unwrap() error { return e.err }

func (e *opError) Error() string {
	return e.op + ": " + describe(e.op, e.path, e.err, e.servers, e.timeout)
}

// exitCode classifies err.
func exitCode(err error) int {
	var ue *usageError
	var ce *commandError
	var hl *holdLostError
	var we *waitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &hl), errors.Is(err, client.ErrSessionLost):
		return exitSession
	case errors.As(err, &we):
		return exitWait
	case errors.Is(err, recipe.ErrNoLeader):
		return exitNoNode
	case errors.Is(err, recipe.ErrTakeUncertain):
		return exitUnavailable // the claim's answer was lost
	case errors.Is(err, client.ErrConnectionLoss), unreachable(err), errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		return exitError
	}
	switch ae.Code {
	case api.CodeNoNode:
		return exitNoNode
	case api.CodeNodeExists, api.CodeNotEmpty, api.CodeNoChildrenForEphemerals:
		return exitConflict
	case api.CodeBadVersion:
		return exitBadVersion
	case api.CodeUnavailable, api.CodeOperationTimeout, api.CodeThrottled:
		return exitUnavailable
	case api.CodeSessionExpired:
		return exitSession
	case api.CodeNoAuth, api.CodeAuthFailed:
		return exitAuth
	}
	return exitError
}

// unreachable reports whether err is a failure to connect to a server.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// describe says what went wrong in one line, with a hint at the fix where
// there is an obvious one.
func describe(op, path string, err error, servers []string, timeout time.Duration) string {
	var ae *api.Error
	var netErr *net.OpError
	var we *waitError
	switch {
	case errors.As(err, &we):
		return err.Error()
	case errors.As(err, &netErr):
		return fmt.Sprintf("cannot reach the cluster (tried %s: %v); is a node running there? Name the servers with --server or CANOPY_SERVERS",
			strings.Join(servers, ", "), netErr.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v (tried %s); --timeout allows longer", timeout, strings.Join(servers, ", "))
	case errors.As(err, &ae) && ae.Message != "":
		msg := string(ae.Code) + ": " + ae.Message
		if ae.Path != "" && ae.Path != path {
			msg += " (" + ae.Path + ")"
		}
		if ae.Code == api.CodeCompacted && ae.OldestZxid != nil {
			msg += fmt.Sprintf("; the server holds the events from zxid %d on", *ae.OldestZxid)
		}
		msg += hint(op, ae.Code)
		// Keep what the error was wrapped in ("writing at /a: ...").
		return strings.Replace(err.Error(), ae.Error(), msg, 1)
	}
	return err.Error()
}

func hint(op string, code api.Code) string {
	name, _, _ := strings.Cut(op, " ")
	switch {
	case code == api.CodeNoNode && name == "create":
		return "; the parent must exist (-p creates missing parents)"
	case code == api.CodeNotEmpty && name == "delete":
		return "; 'canopy deleteall' deletes a node and its children"
	case name == "multi":
		return "; nothing was applied"
	case code == api.CodeNoAuth:
		return "; 'canopy whoami' shows who the cluster takes you for, --user authenticates"
	case code == api.CodeAuthFailed:
		return "; --user (or CANOPY_USER) names the user, CANOPY_PASSWORD the password"
	}
	return ""
}
