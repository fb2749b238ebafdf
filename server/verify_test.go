package server_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// counter reads one sample of a counter from a node's /metrics.
func counter(t *testing.T, nd *testnode.Node, sample string) float64 {
	t.Helper()
	resp, err := http.Get(nd.URL + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// TestLogVerifierChecksTheFollowersLogs: with --raft-verify-interval the
// leader appends checkpoints and the followers verify the ranges between
// them, reporting success in the metric; none fails.
func TestLogVerifierChecksTheFollowersLogs(t *testing.T) {
	t.Parallel()
	nodes := testnode.StartCluster(t, 3, func(m *server.Main) { m.RaftVerifyInterval = 100 * time.Millisecond })
	leader, follower := leaderOf(t, nodes)
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequest("POST", leader.URL+"/v1/nodes/v"+strconv.Itoa(i), strings.NewReader("x"))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
	}
	testkit.WaitFor(t, 15*time.Second, "a verified range on a follower", func() bool {
		return counter(t, follower, `canopy_raft_log_verifications_total{result="ok"}`) > 0
	})
	for _, nd := range nodes {
		for _, bad := range []string{"checksum_mismatch", "error"} {
			if n := counter(t, nd, `canopy_raft_log_verifications_total{result="`+bad+`"}`); n != 0 {
				t.Errorf("%s: %v verifications with result %s", nd.ID, n, bad)
			}
		}
	}
}
