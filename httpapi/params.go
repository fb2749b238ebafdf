package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// nodePath extracts the znode path that follows prefix in the request URL.
// Each segment is unescaped on its own, and an encoded "/" (%2F) is a
// separator like "/" (DESIGN §4): no znode name holds a slash, and
// clients generated from openapi.yaml encode the whole path as one
// parameter. The path's rules, its length among them, are the
// operation's to check.
func (s *Server) nodePath(r *http.Request, prefix string) (string, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	if rest == "" || rest == "/" {
		return "/", nil
	}
	if int64(len(rest)) > 3*int64(s.svc.Limits().MaxPathBytes) {
		return "", badArgs("", "path is over the limit of %d bytes", s.svc.Limits().MaxPathBytes)
	}
	var b strings.Builder
	for _, seg := range strings.Split(rest[1:], "/") {
		name, err := url.PathUnescape(seg)
		if err != nil {
			return "", badArgs("", "path segment %q is not valid percent-encoding", seg)
		}
		b.WriteByte('/')
		b.WriteString(name)
	}
	return b.String(), nil
}

// query is a request's query string, limited to the parameters its route
// knows: an unknown one is an error, not something silently ignored.
type query struct {
	values url.Values
}

func parseQuery(r *http.Request, allowed ...string) (query, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, badArgs("", "malformed query string: %v", err)
	}
	for k, vals := range v {
		if !contains(allowed, k) {
			if len(allowed) == 0 {
				return query{}, badArgs("", "this route takes no query parameters, got %q", k)
			}
			return query{}, badArgs("", "unknown query parameter %q (this route takes: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 && !repeatable[k] {
			return query{}, badArgs("", "query parameter %q given %d times", k, len(vals))
		}
	}
	return query{values: v}, nil
}

// repeatable are the parameters a request may give more than once.
var repeatable = map[string]bool{"acl": true}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (q query) has(k string) bool   { _, ok := q.values[k]; return ok }
func (q query) get(k string) string { return q.values.Get(k) }

// flag reads a boolean flag: present, "true" or "1" is on; "false" or "0" off.
func (q query) flag(k string) (bool, error) {
	if !q.has(k) {
		return false, nil
	}
	switch q.get(k) {
	case "", "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, badArgs("", "flag %q takes no value, true or false; got %q", k, q.get(k))
}

// intIn reads an integer parameter within [min, max]; def when absent.
func (q query) intIn(k string, def, min, max int) (int, error) {
	if !q.has(k) {
		return def, nil
	}
	v, err := strconv.Atoi(q.get(k))
	if err != nil || v < min || v > max {
		return 0, badArgs("", "%s must be an integer from %d to %d, got %q", k, min, max, q.get(k))
	}
	return v, nil
}

// optInt reads an integer parameter, nil when absent; its range is the
// operation's to check.
func (q query) optInt(k string) (*int64, error) {
	if !q.has(k) {
		return nil, nil
	}
	v, err := strconv.ParseInt(q.get(k), 10, 64)
	if err != nil {
		return nil, badArgs("", "%s must be an integer, got %q", k, q.get(k))
	}
	return &v, nil
}

// nonEmpty refuses a parameter given with no value.
func (q query) nonEmpty(k string) error {
	if q.has(k) && q.get(k) == "" {
		return badArgs("", "%s needs a value", k)
	}
	return nil
}

// version reads the precondition from ?version or If-Match ("N", N or *).
func version(r *http.Request, q query, path string) (*int64, error) {
	fromQuery, fromHeader := q.has("version"), r.Header.Get("If-Match") != ""
	raw := q.get("version")
	if fromHeader {
		h := strings.TrimSpace(r.Header.Get("If-Match"))
		if h == "*" {
			h = "-1"
		}
		h = strings.TrimPrefix(strings.TrimSuffix(h, `"`), `"`)
		if fromQuery && h != raw {
			return nil, badArgs(path, "?version=%s and If-Match: %s disagree", raw, r.Header.Get("If-Match"))
		}
		raw = h
	}
	if !fromQuery && !fromHeader {
		return nil, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, badArgs(path, "version must be a 32-bit integer, got %q", raw)
	}
	return &v, nil
}

// readData reads a node's data from the body, refusing more than the limit.
func (s *Server) readData(r *http.Request, path string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, s.svc.Limits().MaxDataBytes+1))
	if err != nil {
		return nil, bodyError(err, path)
	}
	if max := s.svc.Limits().MaxDataBytes; int64(len(data)) > max {
		return nil, api.TooLarge(path, "data is over the limit of %d bytes", max)
	}
	return data, nil
}

func bodyError(err error, path string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return api.Errorf(api.CodeTooLarge, path, "request body is over the limit of %d bytes", tooBig.Limit)
	}
	var ae *api.Error
	if errors.As(err, &ae) { // a field's own refusal: perms that are not cdrwa are InvalidACL
		e := *ae
		if e.Path == "" {
			e.Path = path
		}
		return &e
	}
	return badArgs(path, "reading the request body: %v", err)
}

// sessionHeader reads Canopy-Session: 0 when absent.
func sessionHeader(r *http.Request) (api.ID, error) {
	h := r.Header.Get(headerSession)
	if h == "" {
		return 0, nil
	}
	id, err := service.ParseSessionID(h)
	if err != nil {
		return 0, badArgs("", "malformed %s header: want a session id like 0x1f3a, got %q", headerSession, h)
	}
	return id, nil
}
