package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// WebSocket connections and SSE streams are connections, not requests:
// an hour-long watch must not show as an hour-long request in the request
// latencies, /v1/status or the UI's cluster panel. Their lifetimes have
// their own histogram.
func TestWatchConnectionsAreNotCountedAsRequests(t *testing.T) {
	nd := testnode.Start(t)
	const held = 600 * time.Millisecond

	ctx, cancel := context.WithTimeout(context.Background(), held)
	req, _ := http.NewRequestWithContext(ctx, "GET", nd.URL+"/v1/events?path=/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // until the context ends it
	resp.Body.Close()
	cancel()

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	ws, _, err := websocket.Dial(wctx, "ws"+strings.TrimPrefix(nd.URL, "http")+"/v1/watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseRead(wctx) // reads (and so pongs) in the background
	deadline := time.Now().Add(held)
	for time.Now().Before(deadline) { // a live connection, pinging
		if err := ws.Ping(wctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	metrics := func() string {
		r, err := http.Get(nd.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	testkit.WaitFor(t, 10*time.Second, "both connections' lifetimes recorded", func() bool {
		m := metrics()
		return strings.Contains(m, `canopy_watch_connection_duration_seconds_count{transport="sse"} 1`) &&
			strings.Contains(m, `canopy_watch_connection_duration_seconds_count{transport="websocket"} 1`)
	})
	m := metrics()
	for _, route := range []string{`route="/v1/events"`, `route="/v1/watch"`} {
		if strings.Contains(m, "canopy_http_request_duration_seconds_count{"+route) || strings.Contains(m, "canopy_http_requests_total{"+route) {
			t.Errorf("%s counted among requests", route)
		}
	}
	r, err := http.Get(nd.URL + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var st struct {
		MaxLatencyMs float64 `json:"max_latency_ms"`
	}
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.MaxLatencyMs >= float64(held.Milliseconds()) {
		t.Errorf("/v1/status max_latency_ms %.0f: a watch connection of %v counted as a request", st.MaxLatencyMs, held)
	}
}
