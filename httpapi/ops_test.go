package httpapi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	canopy "github.com/canopy-coord/canopy"
	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
)

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		r := n.expect(n.do("GET", path, "", nil), http.StatusOK)
		if got := strings.TrimSpace(string(r.body)); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
	}
}

func TestStatusFields(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	sess := n.openSession(10000)
	n.create("/a", "12345")
	w := n.expect(n.do("POST", "/v1/nodes/e?ephemeral", "xy", hdr("Canopy-Session", sess.String())), http.StatusCreated)

	r := n.expect(n.do("GET", "/v1/status", "", nil), http.StatusOK)
	var st Status
	r.decode(t, &st)
	if st.ServerState != "leader" || st.NodeID != "node1" || st.Version != "test" {
		t.Errorf("status identity: %+v", st)
	}
	if st.Zxid < w.zxid(t) || st.Zxid != r.zxid(t) {
		t.Errorf("zxid %d; last write %d; Canopy-Zxid %d", st.Zxid, w.zxid(t), r.zxid(t))
	}
	// /, /zookeeper, /zookeeper/config, /zookeeper/quota, /a, /e.
	if st.ZnodeCount != 6 || st.EphemeralsCount != 1 || st.SessionCount != 1 {
		t.Errorf("counts: %+v", st)
	}
	if st.ApproximateDataSize < 7 {
		t.Errorf("approximate_data_size %d, want at least the 7 bytes of data", st.ApproximateDataSize)
	}
	if st.RequestsTotal < 4 || st.OutstandingRequests != 0 {
		t.Errorf("requests: %+v", st)
	}
	if st.MinLatencyMs > st.AvgLatencyMs || st.AvgLatencyMs > st.MaxLatencyMs || st.MaxLatencyMs <= 0 {
		t.Errorf("latencies: min %v avg %v max %v", st.MinLatencyMs, st.AvgLatencyMs, st.MaxLatencyMs)
	}
	if st.UptimeMs <= 0 || st.UptimeMs > time.Hour.Milliseconds() {
		t.Errorf("uptime_ms %d", st.UptimeMs)
	}
	var again Status
	n.expect(n.do("GET", "/v1/status", "", nil), http.StatusOK).decode(t, &again)
	if again.RequestsTotal <= st.RequestsTotal {
		t.Errorf("requests_total did not grow: %d then %d", st.RequestsTotal, again.RequestsTotal)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/m", "")
	n.do("GET", "/v1/nodes/missing", "", nil)
	r := n.expect(n.do("GET", "/metrics", "", nil), http.StatusOK)
	for _, want := range []string{
		"# TYPE canopy_http_requests_total counter",
		`canopy_http_requests_total{code="201",method="POST",route="/v1/nodes/*"} 1`,
		`canopy_http_requests_total{code="404",method="GET",route="/v1/nodes/*"} 1`,
		"canopy_http_request_duration_seconds_bucket",
		"canopy_znodes 5",
		"canopy_raft_propose_seconds",
		"canopy_raft_log_store_seconds_count",
	} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
}

func TestOpenAPIAndUIServed(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	r := n.expect(n.do("GET", "/openapi.yaml", "", nil), http.StatusOK)
	if !bytes.Equal(r.body, canopy.OpenAPI) {
		t.Errorf("/openapi.yaml is not openapi.yaml")
	}
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("/openapi.yaml Content-Type %q", ct)
	}
	r = n.expect(n.do("GET", "/ui/", "", nil), http.StatusOK)
	if !bytes.Contains(r.body, []byte("<title>canopy</title>")) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("/ui/: %s %q", r.body, r.header.Get("Content-Type"))
	}
	for _, path := range []string{"/", "/ui"} {
		r := n.do("GET", path, "", nil)
		if r.status/100 != 3 || r.header.Get("Location") != "/ui/" {
			t.Errorf("GET %s: %d Location %q, want a redirect to /ui/", path, r.status, r.header.Get("Location"))
		}
	}
}

// TestZxidHeaderGrowsAcrossWrites: every write answers its own, larger zxid,
// reads answer one at least as large as the last write, and the zxid in a
// write's Stat is its Canopy-Zxid.
func TestZxidHeaderGrowsAcrossWrites(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	last := n.do("GET", "/v1/status", "", nil).zxid(t)
	writes := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/nodes/z", "1", 201},
		{"PUT", "/v1/nodes/z", "2", 200},
		{"POST", "/v1/nodes/z/k", "", 201},
		{"POST", "/v1/multi", `{"ops":[{"op":"set","path":"/z","data":"3"}]}`, 200},
		{"POST", "/v1/sessions", `{}`, 201},
		{"DELETE", "/v1/nodes/z?recursive", "", 204},
		{"POST", "/v1/nodes/z", "", 201},
		// A write that fails in the state machine still takes a zxid.
		{"PUT", "/v1/nodes/z?version=9", "", 412},
		{"POST", "/v1/nodes/z", "", 409},
	}
	for _, w := range writes {
		r := n.expect(n.do(w.method, w.path, w.body, nil), w.status)
		z := r.zxid(t)
		if z <= last {
			t.Errorf("%s %s: Canopy-Zxid %d, not above the previous %d", w.method, w.path, z, last)
		}
		last = z
		for _, read := range []string{"/v1/nodes/", "/v1/stat/", "/v1/children/", "/v1/tree/", "/v1/sessions", "/v1/status", "/healthz"} {
			if rz := n.do("GET", read, "", nil).zxid(t); rz < z {
				t.Errorf("GET %s after a write at %d: Canopy-Zxid %d", read, z, rz)
			}
		}
	}
	// Errors carry it too: unknown routes, bad input.
	for _, req := range [][2]string{{"GET", "/nope"}, {"PATCH", "/v1/nodes/z"}, {"GET", "/v1/nodes/z?bogus"}} {
		if z := n.do(req[0], req[1], "", nil).zxid(t); z < last {
			t.Errorf("%s %s: Canopy-Zxid %d, below %d", req[0], req[1], z, last)
		}
	}
}

func TestReadConsistencyParameters(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	w := n.expect(n.do("POST", "/v1/nodes/r", "data", nil), http.StatusCreated)
	z := w.zxid(t)
	zs := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, q := range []string{
		"consistency=stale",
		"consistency=linearizable",
		"min_zxid=" + zs(z),
		"min_zxid=" + zs(z) + "&consistency=stale",
		"min_zxid=" + zs(z) + "&consistency=linearizable&timeout_ms=1000",
		"min_zxid=0",
		"timeout_ms=5",
	} {
		for _, route := range []string{"/v1/nodes/r", "/v1/stat/r", "/v1/children/r", "/v1/tree/r"} {
			r := n.expect(n.do("GET", route+"?"+q, "", nil), http.StatusOK)
			if r.zxid(t) < z {
				t.Errorf("GET %s?%s: Canopy-Zxid %d below the write's %d", route, q, r.zxid(t), z)
			}
		}
		n.expect(n.do("HEAD", "/v1/nodes/r?"+q, "", nil), http.StatusOK)
	}

	// A zxid the node has not reached: 504 once timeout_ms has passed.
	future := zs(z + 1000000)
	for _, route := range []string{"/v1/nodes/r", "/v1/stat/r", "/v1/children/r", "/v1/tree/r", "/v1/nodes/"} {
		start := time.Now()
		r := n.expect(n.do("GET", route+"?min_zxid="+future+"&timeout_ms=200", "", nil), http.StatusGatewayTimeout)
		took := time.Since(start)
		if r.errorCode() != api.CodeOperationTimeout {
			t.Errorf("%s: code %s", route, r.errorCode())
		}
		if took < 200*time.Millisecond || took > 5*time.Second {
			t.Errorf("%s: answered 504 after %v, want after timeout_ms=200", route, took)
		}
	}
	start := time.Now()
	n.expect(n.do("HEAD", "/v1/nodes/r?min_zxid="+future+"&timeout_ms=200&consistency=stale", "", nil), http.StatusGatewayTimeout)
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("HEAD 504 after %v", took)
	}
}

// TestForwardingStreamUpgrade: a follower's upgrade request gets 101 with
// the protocol and, like every answer, Canopy-Zxid; the connection then
// answers a proposal frame the server cannot decode with an error frame,
// and stays open for the next.
func TestForwardingStreamUpgrade(t *testing.T) {
	n := startNode(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, n.base+cluster.StreamPath, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", cluster.StreamProtocol)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != cluster.StreamProtocol || resp.Header.Get("Canopy-Zxid") == "" {
		t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
	}
	for id := uint64(1); id <= 2; id++ {
		// length, kind 1 (propose), id, timeout ms, a payload no command is
		var f []byte
		f = binary.BigEndian.AppendUint32(f, 13+3)
		f = append(f, 1)
		f = binary.BigEndian.AppendUint64(f, id)
		f = binary.BigEndian.AppendUint32(f, 1000)
		f = append(f, "bad"...)
		if _, err := conn.Write(f); err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 17)
		if _, err := io.ReadFull(r, head); err != nil {
			t.Fatalf("answer %d: %v", id, err)
		}
		body := make([]byte, binary.BigEndian.Uint32(head)-13)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		var e api.Error
		if head[4] != 3 || binary.BigEndian.Uint64(head[5:13]) != id || json.Unmarshal(body, &e) != nil || e.Code != api.CodeBadArguments {
			t.Fatalf("answer %d: kind %d id %d %s, want an error frame for id %d with BadArguments", id, head[4], binary.BigEndian.Uint64(head[5:13]), body, id)
		}
	}
}
