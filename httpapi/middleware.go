package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

const headerRequestID = "X-Request-Id"

type ctxKey int

const requestIDKey ctxKey = iota

// Generated request ids are a random per-process prefix and a counter:
// unique across restarts and nodes without a syscall per request.
var (
	requestIDPrefix = func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
	}()
	requestCounter atomic.Uint64
)

// requestID takes the caller's X-Request-Id when it is sane, or makes one,
// and echoes it, so a request can be followed through logs.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(headerRequestID)
		if id == "" || len(id) > 64 || !printable(id) {
			id = requestIDPrefix + strconv.FormatUint(requestCounter.Add(1), 16)
		}
		w.Header().Set(headerRequestID, id)
		// One new context for the request: its id, and the place
		// authenticate fills with its caller (service.WithCallerSlot).
		next.ServeHTTP(w, r.WithContext(service.WithCallerSlot(context.WithValue(r.Context(), requestIDKey, id))))
	})
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// recoverer turns a panic into a logged 500 with the error body. A panic is
// a bug, but one request's bug must not take the node down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error().Str("request_id", requestIDOf(r)).Str("method", r.Method).
					Str("url", r.URL.String()).Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).
					Msg("handler panic")
				writeError(w, s.svc.Applied(), api.Errorf(api.CodeSystemError, "", "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// stampZxid sets the default Canopy-Zxid, the applied zxid, which every
// response carries; a handler sets its own where the answer reflects
// another.
func (s *Server) stampZxid(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setZxid(w, s.svc.Applied())
		next.ServeHTTP(w, r)
	})
}

// observe records the request's metrics and writes the access log line
// (debug level).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		s.metrics.inflight.Inc()
		s.metrics.active.Add(1)
		next.ServeHTTP(ww, r)
		s.metrics.active.Add(-1)
		s.metrics.inflight.Dec()
		elapsed := time.Since(start)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(route, r.Method, status, elapsed)
		if e := s.log.Debug(); e.Enabled() {
			e.Str("request_id", requestIDOf(r)).Str("method", r.Method).Str("path", r.URL.EscapedPath()).
				Str("route", route).Int("status", status).Int("bytes", ww.BytesWritten()).
				Dur("duration", elapsed).Str("zxid", ww.Header().Get(headerZxid)).
				Str("remote", r.RemoteAddr).Msg("request")
		}
	})
}

// throttle refuses, 429 with Retry-After, a request over its client's
// limits (ClientLimits); over the connection limit it also closes the
// connection.
func (s *Server) throttle(next http.Handler) http.Handler {
	if s.cfg.Clients.off() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err, closeConn := s.cfg.Clients.refuse(r); err != nil {
			if closeConn {
				w.Header().Set("Connection", "close")
			}
			writeError(w, s.svc.Applied(), err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body (DESIGN §8), but a backup being
// restored, which is as large as the tree.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/snapshot" {
			next.ServeHTTP(w, r)
			return
		}
		max := s.svc.Limits().MaxBodyBytes
		if r.ContentLength > max {
			writeError(w, s.svc.Applied(), api.TooLarge("", "request body of %d bytes is over the limit of %d", r.ContentLength, max))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// sessionCheck makes a request that names a session act within it: the
// header must be well formed and name an open session, and the request
// counts as a keep-alive, as any request on a ZooKeeper connection does.
func (s *Server) sessionCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := sessionHeader(r)
		if err != nil {
			writeError(w, s.svc.Applied(), err)
			return
		}
		if id != 0 {
			if err := s.svc.Touch(r.Context(), id); err != nil {
				writeError(w, s.svc.Applied(), err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func requestIDOf(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
