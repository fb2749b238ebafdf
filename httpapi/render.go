package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/canopy-coord/canopy/api"
)

const (
	headerZxid    = "Canopy-Zxid"
	headerSession = "Canopy-Session"
	headerStat    = "Canopy-Stat"
)

func setZxid(w http.ResponseWriter, zxid int64) {
	w.Header().Set(headerZxid, strconv.FormatInt(zxid, 10))
}

// writeJSON renders v with status and the zxid the answer reflects.
func writeJSON(w http.ResponseWriter, status int, zxid int64, v any) {
	setZxid(w, zxid)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

// writeError renders err as the contract's error body. Errors without an
// API code are the server's own failures: 500 SystemError, never a panic.
func writeError(w http.ResponseWriter, zxid int64, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		e = &api.Error{Code: api.CodeSystemError, Message: err.Error()}
	}
	status := e.Code.Status()
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, zxid, api.ErrorBody{Error: e})
}

func badArgs(path, format string, args ...any) *api.Error {
	return api.Errorf(api.CodeBadArguments, path, format, args...)
}
