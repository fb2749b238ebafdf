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
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/canopy-coord/canopy/internal/testkit"
)

// Where Debian's zookeeper package puts ZooKeeper. The jar's manifest names
// its dependencies (jute, netty, metrics, slf4j-api, ...) by absolute path,
// so only a logging binding has to be added to the class path.
const (
	zkJar       = "/usr/share/java/zookeeper.jar"
	slf4jSimple = "/usr/share/java/slf4j-simple.jar"
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
	canopyProc *proc
	// zkMain is a ZooKeeper connection shared by all tests for the
	// operations that need no particular session.
	zkMain *zk.Conn
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// proc is a child process started by TestMain, stopped by its PID.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error
}

func startProc(name, logPath, dir string, argv ...string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// tail is the end of the process's log, or its panic and what follows.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	for _, mark := range []string{"panic: ", "fatal error: "} {
		if i := bytes.Index(b, []byte(mark)); i >= 0 {
			b = b[i:]
			if len(b) > 6000 {
				b = b[:6000]
			}
			return string(b)
		}
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (p *proc) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "zkcompat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkcompat:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	java, zkMissing := findZooKeeper()
	if zkMissing != "" && os.Getenv("CI") == "true" {
		fmt.Fprintf(os.Stderr, "zkcompat: %s (CI=true: failing instead of skipping)\n", zkMissing)
		return 1
	}

	// ZooKeeper (a JVM) starts while canopy builds.
	var zkp *proc
	if zkMissing == "" {
		zkp, err = startZooKeeper(java, filepath.Join(tmp, "zk"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkcompat:", err)
			return 1
		}
		defer zkp.stop()
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
		fmt.Fprintf(os.Stderr, "zkcompat: %v\n--- zookeeper log ---\n%s\n", err, zkp.tail())
		return 1
	}
	defer zkMain.Close()

	cp, err := startCanopy(bin, filepath.Join(tmp, "canopy-data"), filepath.Join(tmp, "canopy.log"))
	if cp != nil {
		defer cp.stop()
	}
	if err != nil {
		tail := ""
		if cp != nil {
			tail = cp.tail()
		}
		fmt.Fprintf(os.Stderr, "zkcompat: %v\n--- canopy log ---\n%s\n", err, tail)
		return 1
	}
	canopyProc = cp
	code := m.Run()
	if cp.dead() {
		fmt.Fprintf(os.Stderr, "zkcompat: canopy exited during the tests (%v)\n", cp.err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- canopy log (tail) ---\n%s\n", cp.tail())
	}
	return code
}

// findZooKeeper returns the java binary, or why ZooKeeper cannot run.
func findZooKeeper() (string, string) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", "java is not installed"
	}
	for _, f := range []string{zkJar, slf4jSimple} {
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Sprintf("ZooKeeper is not installed (%s missing; apt-get install zookeeper)", f)
		}
	}
	return java, ""
}

func startZooKeeper(java, dir string) (*proc, error) {
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
	return startProc("zookeeper", filepath.Join(dir, "zookeeper.log"), dir,
		java,
		"-Dzookeeper.extendedTypesEnabled=true",
		"-Dzookeeper.DigestAuthenticationProvider.superDigest="+superDigest(),
		"-Dzookeeper.admin.enableServer=false",
		"-Dznode.container.checkIntervalMs=1000",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-cp", zkJar+":"+slf4jSimple,
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
}

// waitZooKeeper waits until a client session is established, and keeps that
// connection as zkMain.
func waitZooKeeper(p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.dead() {
			return fmt.Errorf("zookeeper exited early: %v", p.err)
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

func startCanopy(bin, dataDir, logPath string) (*proc, error) {
	httpAddr, err := testkit.PickFreePort()
	if err != nil {
		return nil, err
	}
	raftAddr, err := testkit.PickFreePort()
	if err != nil {
		return nil, err
	}
	p, err := startProc("canopy", logPath, filepath.Dir(dataDir), bin, "serve",
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
		if p.dead() {
			return p, fmt.Errorf("canopy exited early: %v", p.err)
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
