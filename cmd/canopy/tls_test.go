package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/canopy-coord/canopy/internal/testkit"
)

// SIGHUP swaps the API's certificate for new connections and drops none:
// a keep-alive connection and a WebSocket opened before it go on working,
// and the WebSocket sees a write made after it.
func TestSIGHUPReloadsTheCertificateWithoutDroppingConnections(t *testing.T) {
	ca := testkit.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.IssueFiles(t, dir, "server-a", "127.0.0.1")
	// Each client has its own connections: kept is the one open across
	// the reload, fresh dials anew for every request.
	kept := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true,
	}}
	p := startProcOver(t, "https", fresh, t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "info")
	servedBy := func(c *http.Client, method, path string) (string, int) {
		t.Helper()
		req, _ := http.NewRequest(method, p.url+path, strings.NewReader("x"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.CommonName, resp.StatusCode
	}
	if name, _ := servedBy(kept, "GET", "/v1/nodes/"); name != "server-a" {
		t.Fatalf("before the reload: served by %s", name)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(p.url, "https")+"/v1/watch", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := wsjson.Write(ctx, ws, map[string]any{"id": 1, "op": "exists", "path": "/after", "watch": true}); err != nil {
		t.Fatal(err)
	}
	var answer map[string]any
	if err := wsjson.Read(ctx, ws, &answer); err != nil || answer["error"] != nil {
		t.Fatalf("the watch: %v %v", answer, err)
	}

	certB, keyB := ca.IssuePEM(t, "server-b", "127.0.0.1")
	testkit.WriteFile(t, certFile, certB)
	testkit.WriteFile(t, keyFile, keyB)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "a new connection served by server-b", func() bool {
		name, _ := servedBy(fresh, "GET", "/v1/nodes/")
		return name == "server-b"
	})

	// The connection open before the reload still answers, with its
	// certificate: the same connection.
	name, status := servedBy(kept, "POST", "/v1/nodes/after")
	if name != "server-a" || status != http.StatusCreated {
		t.Fatalf("the kept connection after the reload: served by %s, status %d; want server-a, 201", name, status)
	}
	_, msg, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"event"`) || !strings.Contains(string(msg), "/after") {
		t.Fatalf("the WebSocket after the reload: %s, %v; want the event of /after", msg, err)
	}
	log, _ := os.ReadFile(p.log)
	if !strings.Contains(string(log), "TLS certificate reloaded") || !strings.Contains(string(log), "CN=server-b") {
		t.Errorf("no reload line naming CN=server-b in the log:\n%s", log)
	}
}
