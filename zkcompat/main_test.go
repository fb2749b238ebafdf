package zkcompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/canopy-coord/canopy/internal/childproc"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/zkserver"
)

var (
	// skipReason is set when ZooKeeper is not installed (and CI is not
	// "true"): every test skips with it.
	skipReason string
	// zkAddr is the client address of the ZooKeeper started by TestMain.
	zkAddr string
	// canopyURL is the base URL of the Canopy node started by TestMain.
	canopyURL string
	// canopyProc is the Canopy node started by TestMain.
	canopyProc *childproc.Proc
	// zkMain is a ZooKeeper connection shared by all tests for the
	// operations that need no particular session.
	zkMain *zk.Conn
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "zkcompat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkcompat:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	java, zkMissing := zkserver.Find()
	if zkMissing != "" && os.Getenv("CI") == "true" {
		fmt.Fprintf(os.Stderr, "zkcompat: %s (CI=true: failing instead of skipping)\n", zkMissing)
		return 1
	}

	// ZooKeeper (a JVM) starts while canopy builds.
	var zkp *childproc.Proc
	if zkMissing == "" {
		zkp, err = startZooKeeper(java, filepath.Join(tmp, "zk"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkcompat:", err)
			return 1
		}
		defer zkp.Stop()
	}

	bin := filepath.Join(tmp, "canopy")
	build := exec.Command("go", "build", "-o", bin, "./cmd/canopy")
	build.Dir = ".." // the module root: this package is <root>/zkcompat
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "zkcompat: go build ./cmd/canopy failed: %v\n%s\n", err, out)
		return 1
	}

	if zkMissing != "" {
		skipReason = zkMissing
		return m.Run()
	}

	if err := waitZooKeeper(zkp); err != nil {
		fmt.Fprintf(os.Stderr, "zkcompat: %v\n--- zookeeper log ---\n%s\n", err, zkp.Tail())
		return 1
	}
	defer zkMain.Close()

	cp, err := startCanopy(bin, filepath.Join(tmp, "canopy-data"), filepath.Join(tmp, "canopy.log"))
	if cp != nil {
		defer cp.Stop()
	}
	if err != nil {
		tail := ""
		if cp != nil {
			tail = cp.Tail()
		}
		fmt.Fprintf(os.Stderr, "zkcompat: %v\n--- canopy log ---\n%s\n", err, tail)
		return 1
	}
	canopyProc = cp
	code := m.Run()
	if cp.Dead() {
		fmt.Fprintf(os.Stderr, "zkcompat: canopy exited during the tests (%v)\n", cp.Err())
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- canopy log (tail) ---\n%s\n", cp.Tail())
	}
	return code
}

func startZooKeeper(java, dir string) (*childproc.Proc, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	addr, err := testkit.PickFreePort()
	if err != nil {
		return nil, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n", data, port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	zkAddr = addr
	return childproc.Start("zookeeper", filepath.Join(dir, "zookeeper.log"), dir,
		java,
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dzookeeper.DigestAuthenticationProvider.superDigest="+superDigest(),
		"-Dzookeeper.admin.enableServer=false",
		"-Dznode.container.checkIntervalMs=1000",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", zkserver.Classpath,
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
}

// waitZooKeeper waits until a client session is established, and keeps that
// connection as zkMain.
func waitZooKeeper(p *childproc.Proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.Dead() {
			return fmt.Errorf("zookeeper exited early: %v", p.Err())
		}
		c, err := connectZK(5 * time.Second)
		if err == nil {
			zkMain = c
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper at %s not ready within 30 s: %v", zkAddr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connectZK opens a new ZooKeeper session (one zk.Conn is one session).
func connectZK(wait time.Duration) (*zk.Conn, error) { return connectZKFrom(wait, "") }

// connectZKFrom is connectZK from the local address local ("" is any).
func connectZKFrom(wait time.Duration, local string) (*zk.Conn, error) {
	var laddr net.Addr
	if local != "" {
		laddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout, LocalAddr: laddr}
		return d.Dial(network, address)
	}
	c, events, err := zk.Connect([]string{zkAddr}, 10*time.Second,
		zk.WithLogInfo(false), zk.WithLogger(quietLogger{}), zk.WithDialer(dial))
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil, errors.New("zk event channel closed")
			}
			if ev.State == zk.StateHasSession {
				return c, nil
			}
		case <-timer.C:
			c.Close()
			return nil, fmt.Errorf("no zookeeper session within %v", wait)
		}
	}
}

func startCanopy(bin, dataDir, logPath string) (*childproc.Proc, error) {
	httpAddr, err := testkit.PickFreePort()
	if err != nil {
		return nil, err
	}
	raftAddr, err := testkit.PickFreePort()
	if err != nil {
		return nil, err
	}
	p, err := childproc.Start("canopy", logPath, filepath.Dir(dataDir), bin, "serve",
		"--http", httpAddr,
		"--raft", raftAddr,
		"--data-dir", dataDir,
		"--super-digest", superDigest(),
		"--log-level", "warn")
	if err != nil {
		return nil, err
	}
	canopyURL = "http://" + httpAddr
	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if p.Dead() {
			return p, fmt.Errorf("canopy exited early: %v", p.Err())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", canopyURL+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				cancel()
				return p, nil
			}
			err = fmt.Errorf("readyz: %d %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		cancel()
		if time.Now().After(deadline) {
			return p, fmt.Errorf("canopy at %s not ready within 30 s: %v", canopyURL, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// needSystems skips the test when ZooKeeper is not installed.
func needSystems(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}
