package api

import (
	"errors"
	"fmt"
)

// Code is a ZooKeeper-style error code, the stable part of every error body.
type Code string

// The codes of DESIGN §4. Each maps to one HTTP status in Status.
const (
	CodeNoNode                  Code = "NoNode"
	CodeNodeExists              Code = "NodeExists"
	CodeNotEmpty                Code = "NotEmpty"
	CodeNoChildrenForEphemerals Code = "NoChildrenForEphemerals"
	CodeBadVersion              Code = "BadVersion"
	CodeBadArguments            Code = "BadArguments"
	CodeInvalidACL              Code = "InvalidACL"
	CodeAuthFailed              Code = "AuthFailed"
	CodeNoAuth                  Code = "NoAuth"
	CodeSessionExpired          Code = "SessionExpired"
	CodeTooLarge                Code = "TooLarge"
	CodeNoWatcher               Code = "NoWatcher"
	CodeNotFound                Code = "NotFound"
	CodeMethodNotAllowed        Code = "MethodNotAllowed"
	CodeThrottled               Code = "Throttled"
	CodeUnavailable             Code = "Unavailable"
	CodeOperationTimeout        Code = "OperationTimeout"
	CodeCompacted               Code = "Compacted"
	CodeRuntimeInconsistency    Code = "RuntimeInconsistency"
	CodeSystemError             Code = "SystemError"
	// CodeQuotaExceeded: the tree is at --max-tree-bytes; deletes still work.
	CodeQuotaExceeded Code = "QuotaExceeded"
)

var statusByCode = map[Code]int{
	CodeNoNode:                  404,
	CodeNodeExists:              409,
	CodeNotEmpty:                409,
	CodeNoChildrenForEphemerals: 409,
	CodeBadVersion:              412,
	CodeBadArguments:            400,
	CodeInvalidACL:              400,
	CodeAuthFailed:              401,
	CodeNoAuth:                  403,
	CodeSessionExpired:          410,
	CodeTooLarge:                413,
	CodeNoWatcher:               404,
	CodeNotFound:                404,
	CodeMethodNotAllowed:        405,
	CodeThrottled:               429,
	CodeUnavailable:             503,
	CodeOperationTimeout:        504,
	CodeCompacted:               410,
	CodeRuntimeInconsistency:    400,
	CodeSystemError:             500,
	CodeQuotaExceeded:           507,
}

// Status is the HTTP status for a code; unknown codes are server errors.
func (c Code) Status() int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return 500
}

// Error is the one error type of the API. Its JSON form is the body of
// every error response: {"error": <Error>}.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
	// Index is the failing op of a multi.
	Index *int `json:"index,omitempty"`
	// OldestZxid accompanies Compacted: the oldest zxid still held.
	OldestZxid *int64 `json:"oldest_zxid,omitempty"`
}

func (e *Error) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Path)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is lets errors.Is match on the code alone: errors.Is(err, &Error{Code: CodeNoNode}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Errorf builds an *Error for a path.
func Errorf(code Code, path, format string, args ...any) *Error {
	return &Error{Code: code, Path: path, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, or SystemError when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeSystemError
}

// ErrorBody is the JSON envelope of an error response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// The named constructors of the errors every layer makes. Errorf remains
// for the rest.

// NoNode is a path with no node.
func NoNode(path string) *Error { return Errorf(CodeNoNode, path, "node does not exist") }

// BadArguments is a request the contract refuses for its shape.
func BadArguments(path, format string, args ...any) *Error {
	return Errorf(CodeBadArguments, path, format, args...)
}

// TooLarge is data, a body or a packet over its limit.
func TooLarge(path, format string, args ...any) *Error {
	return Errorf(CodeTooLarge, path, format, args...)
}

// Unavailable is a request that found no leader or quorum, or a node going
// away: a write answered so may or may not have happened.
func Unavailable(format string, args ...any) *Error {
	return Errorf(CodeUnavailable, "", format, args...)
}

// OperationTimeout is a wait that ran out of time.
func OperationTimeout(format string, args ...any) *Error {
	return Errorf(CodeOperationTimeout, "", format, args...)
}

// SessionExpired is a session that is unknown, closed or expired.
func SessionExpired(id ID) *Error {
	return Errorf(CodeSessionExpired, "", "session %s is unknown, closed or expired", id)
}

// Throttled is a request over its client's limits.
func Throttled(format string, args ...any) *Error {
	return Errorf(CodeThrottled, "", format, args...)
}

// NoAuth is an operation the node's ACL does not allow this caller.
func NoAuth(path string, need Perms) *Error {
	return Errorf(CodeNoAuth, path, "not authorized: the ACL does not give this caller %q", need.String())
}

// InvalidACL is an ACL that is empty or malformed, or an "auth" ACL from a
// caller with no authenticated identity.
func InvalidACL(path, format string, args ...any) *Error {
	return Errorf(CodeInvalidACL, path, format, args...)
}

// AuthFailed is a request whose credentials could not be read, or an
// anonymous one where authentication is required.
func AuthFailed(format string, args ...any) *Error {
	return Errorf(CodeAuthFailed, "", format, args...)
}
