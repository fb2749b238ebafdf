package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/internal/childproc"
)

// canopyNode is one member of the Canopy cluster.
type canopyNode struct {
	ID, HTTP, Raft, DataDir string
}

func (n canopyNode) url() string { return "http://" + n.HTTP }

// buildCanopy builds cmd/canopy into dir, from the module that holds this
// command (the working directory of `make compare`).
func buildCanopy(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "canopy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/canopy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/canopy (run from the repository's root): %v\n%s", err, out)
	}
	return bin, nil
}

// canopyArgs is node self's command line in the cluster of all.
func canopyArgs(bin string, self canopyNode, all []canopyNode) []string {
	peers := make([]string, len(all))
	for i, n := range all {
		peers[i] = n.ID + "=" + n.Raft
	}
	return []string{bin, "serve", "--id", self.ID, "--http", self.HTTP, "--raft", self.Raft,
		"--data-dir", self.DataDir, "--peers", strings.Join(peers, ","), "--log-level", "warn"}
}

// startCanopy starts three nodes under dir.
func startCanopy(bin, dir string, ports *portPicker) ([]*childproc.Proc, []canopyNode, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	var nodes []canopyNode
	for i := 1; i <= 3; i++ {
		hp, err := ports.next()
		if err != nil {
			return nil, nil, err
		}
		rp, err := ports.next()
		if err != nil {
			return nil, nil, err
		}
		nodes = append(nodes, canopyNode{ID: fmt.Sprintf("n%d", i),
			HTTP: fmt.Sprintf("127.0.0.1:%d", hp), Raft: fmt.Sprintf("127.0.0.1:%d", rp),
			DataDir: filepath.Join(dir, fmt.Sprintf("n%d", i))})
	}
	var procs []*childproc.Proc
	for _, n := range nodes {
		p, err := childproc.Start("canopy "+n.ID, filepath.Join(dir, n.ID+".log"), dir, canopyArgs(bin, n, nodes)...)
		if err != nil {
			return procs, nodes, err
		}
		procs = append(procs, p)
	}
	return procs, nodes, nil
}

// waitCanopy waits for /readyz on every node.
func waitCanopy(ctx context.Context, procs []*childproc.Proc, nodes []canopyNode) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for i, n := range nodes {
			if procs[i].Dead() {
				return fmt.Errorf("%s exited early (%v):\n%s", procs[i].Name, procs[i].Err(), procs[i].Tail())
			}
			if resp, err := hc.Get(n.url() + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ready++
				}
			}
		}
		if ready == len(nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Canopy cluster not ready within 60 s (%d of %d ready)", ready, len(nodes))
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// canopyLeader is the index of the node whose /v1/status says leader.
func canopyLeader(nodes []canopyNode) (int, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	for i, n := range nodes {
		resp, err := hc.Get(n.url() + "/v1/status")
		if err != nil {
			continue
		}
		var st struct {
			State string `json:"server_state"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err == nil && st.State == "leader" {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no Canopy node reports server_state leader")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
