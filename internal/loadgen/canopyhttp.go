package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The HTTP side of a Canopy load client: keep-alive connections, setup
// requests, and error kinds from Canopy's error body.

// NewHTTPClient returns a keep-alive client able to hold one idle connection
// per load client. Proxies from the environment are ignored: the benchmark
// talks to the target directly.
func NewHTTPClient(clients int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2*clients + 8,
		MaxIdleConnsPerHost: 2*clients + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// EscapePath percent-encodes each segment of an absolute node path.
func EscapePath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + strings.Join(segs, "/")
}

// Payload returns n bytes of printable ASCII, so the server returns the data
// as utf8 text (as most users' data is).
func Payload(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[i%len(alphabet)]
	}
	return b
}

// APIError extracts "<status> <code>" from an error response.
func APIError(resp *http.Response) (kind, msg string) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	kind = strconv.Itoa(resp.StatusCode)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		kind += " " + e.Error.Code
		return kind, kind + ": " + e.Error.Message
	}
	txt := strings.TrimSpace(string(body))
	if len(txt) > 200 {
		txt = txt[:200] + "..."
	}
	return kind, kind + ": " + txt
}

// TransportKind names a transport error compactly for the error table.
func TransportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	}
	return "transport error"
}

// Call is a setup request: it returns the status and the error code, if any.
func Call(ctx context.Context, hc *http.Client, method, u string, body []byte) (int, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", nil
	}
	kind, msg := APIError(resp)
	return resp.StatusCode, kind, errors.New(msg)
}

// EnsureNode makes path exist (with its ancestors) holding data.
func EnsureNode(ctx context.Context, hc *http.Client, base, path string, data []byte) error {
	u := base + "/v1/nodes" + EscapePath(path)
	st, _, err := Call(ctx, hc, http.MethodPost, u+"?parents", data)
	switch {
	case st == http.StatusCreated:
		return nil
	case st == http.StatusConflict:
		// It exists already (NodeExists): give it our data.
		if _, _, err := Call(ctx, hc, http.MethodPut, u, data); err != nil {
			return fmt.Errorf("set %s: %w", path, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("create %s: %w", path, err)
	default:
		return fmt.Errorf("create %s: unexpected status %d", path, st)
	}
}

// DoHTTP sends a request and reads the whole answer. It returns an empty
// kind on a 2xx answer, else the error's kind and message.
func DoHTTP(hc *http.Client, req *http.Request) (kind, msg string) {
	resp, err := hc.Do(req)
	if err != nil {
		return TransportKind(err), err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return APIError(resp)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return TransportKind(err), "reading body: " + err.Error()
	}
	return "", ""
}

// ErrorSummary renders error kinds as "503 Unavailable=3, timeout=1".
func ErrorSummary(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
