package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// HeaderZxid carries the zxid an HTTP answer reflects.
const HeaderZxid = "Canopy-Zxid"

// WriteJSON renders v with status and the zxid the answer reflects.
func WriteJSON(w http.ResponseWriter, status int, zxid int64, v any) {
	w.Header().Set(HeaderZxid, strconv.FormatInt(zxid, 10))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing left to tell it
}

// WriteError renders err as the contract's error body, for every HTTP
// route (REST, SSE, the WebSocket handshake): its status from the one
// table (Code.Status), and Retry-After on 429 and 503. An error without a
// code is the server's own failure: 500 SystemError.
func WriteError(w http.ResponseWriter, zxid int64, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeSystemError, Message: err.Error()}
	}
	status := e.Code.Status()
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		if w.Header().Get("Retry-After") == "" { // a caller that knows better has set it
			w.Header().Set("Retry-After", "1")
		}
	}
	WriteJSON(w, status, zxid, ErrorBody{Error: e})
}
