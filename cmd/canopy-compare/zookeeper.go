package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/internal/childproc"
	"github.com/canopy-coord/canopy/internal/zkserver"
	"github.com/go-zookeeper/zk"
)

// zkServer is one member of the ensemble as zoo.cfg names it.
type zkServer struct {
	ID           int
	ClientPort   int
	PeerPort     int
	ElectionPort int
	DataDir      string
}

func (s zkServer) clientAddr() string { return "127.0.0.1:" + strconv.Itoa(s.ClientPort) }

// zooCfg is server self's zoo.cfg in an ensemble of all. fsync stays on
// (forceSync defaults to yes); the four-letter words are allowed because
// readiness and the leader are found with srvr.
func zooCfg(self zkServer, all []zkServer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=2000\ninitLimit=10\nsyncLimit=5\n")
	fmt.Fprintf(&b, "dataDir=%s\n", self.DataDir)
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", self.ClientPort)
	fmt.Fprintf(&b, "maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n")
	for _, s := range all {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", s.ID, s.PeerPort, s.ElectionPort)
	}
	return b.String()
}

// startEnsemble writes each server's dataDir, myid and zoo.cfg under dir
// and starts the three JVMs. On error the ones started are in the result.
func startEnsemble(java, dir string, ports *portPicker) ([]*childproc.Proc, []zkServer, error) {
	var servers []zkServer
	for id := 1; id <= 3; id++ {
		s := zkServer{ID: id, DataDir: filepath.Join(dir, fmt.Sprintf("zk%d", id), "data")}
		var err error
		if s.ClientPort, err = ports.next(); err != nil {
			return nil, nil, err
		}
		if s.PeerPort, err = ports.next(); err != nil {
			return nil, nil, err
		}
		if s.ElectionPort, err = ports.next(); err != nil {
			return nil, nil, err
		}
		servers = append(servers, s)
	}
	var procs []*childproc.Proc
	for _, s := range servers {
		home := filepath.Dir(s.DataDir)
		if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
			return procs, servers, err
		}
		if err := os.WriteFile(filepath.Join(s.DataDir, "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return procs, servers, err
		}
		cfg := filepath.Join(home, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(zooCfg(s, servers)), 0o644); err != nil {
			return procs, servers, err
		}
		p, err := childproc.Start(fmt.Sprintf("zookeeper %d", s.ID), filepath.Join(home, "zookeeper.log"), home,
			java,
			"-Dzookeeper.extendedTypesEnabled=true",
			"-Dzookeeper.admin.enableServer=false",
			"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
			"-cp", zkserver.Classpath,
			"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
		if err != nil {
			return procs, servers, err
		}
		procs = append(procs, p)
	}
	return procs, servers, nil
}

// fourLetter sends a four-letter word and returns the answer.
func fourLetter(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// zkMode is "leader", "follower" or "" (not serving) from srvr.
func zkMode(addr string) string {
	out, err := fourLetter(addr, "srvr")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// waitEnsemble waits until all three serve, one of them as the leader.
func waitEnsemble(ctx context.Context, procs []*childproc.Proc, servers []zkServer) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		leaders, serving := 0, 0
		for i, s := range servers {
			if procs[i].Dead() {
				return fmt.Errorf("%s exited early (%v):\n%s", procs[i].Name, procs[i].Err(), procs[i].Tail())
			}
			switch zkMode(s.clientAddr()) {
			case "leader":
				leaders++
				serving++
			case "follower":
				serving++
			}
		}
		if leaders == 1 && serving == 3 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ZooKeeper ensemble not serving within 90 s (%d of 3 serving)", serving)
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// zkLeader is the index of the ensemble's leader.
func zkLeader(servers []zkServer) (int, error) {
	for i, s := range servers {
		if zkMode(s.clientAddr()) == "leader" {
			return i, nil
		}
	}
	return 0, errors.New("no ZooKeeper server reports Mode: leader")
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// zkConnect opens a session on the one server addr (one zk.Conn is one
// session) and returns once it is established.
func zkConnect(ctx context.Context, addr string) (*zk.Conn, error) {
	c, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil, errors.New("zk event channel closed")
			}
			if ev.State == zk.StateHasSession {
				go drain(events)
				return c, nil
			}
		case <-timer.C:
			c.Close()
			return nil, fmt.Errorf("no ZooKeeper session at %s within 10 s", addr)
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
	}
}

// drain keeps a connection's event channel from filling; it closes with
// the connection.
func drain(events <-chan zk.Event) {
	for range events {
	}
}
