package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testkit"
	"github.com/canopy-coord/canopy/internal/testnode"
	"github.com/canopy-coord/canopy/server"
)

// leaderAndFollower starts a 3-node cluster and names its leader and one
// follower.
func leaderAndFollower(tb testing.TB, opts ...testnode.Option) (leader, follower *testnode.Node) {
	tb.Helper()
	return leaderOf(tb, testnode.StartCluster(tb, 3, opts...))
}

// leaderOf names a cluster's leader and one follower.
func leaderOf(tb testing.TB, nodes []*testnode.Node) (leader, follower *testnode.Node) {
	tb.Helper()
	testkit.WaitFor(tb, 20*time.Second, "a leader", func() bool {
		resp, err := http.Get(nodes[0].URL + "/v1/cluster")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var info api.Cluster
		if json.NewDecoder(resp.Body).Decode(&info) != nil || info.Leader == nil {
			return false
		}
		for _, nd := range nodes {
			if nd.ID == info.Leader.ID {
				leader = nd
			} else if follower == nil {
				follower = nd
			}
		}
		return leader != nil
	})
	return leader, follower
}

// loneWrites sets /w on the leader n times, one at a time, each after the
// last one's event reached a watcher on the follower, and returns how long
// after each set's answer the follower's event came.
func loneWrites(tb testing.TB, leader, follower *testnode.Node, n int) []time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lc, err := client.New(client.Config{Servers: []string{leader.URL}})
	if err != nil {
		tb.Fatal(err)
	}
	defer lc.Close()
	fc, err := client.New(client.Config{Servers: []string{follower.URL}})
	if err != nil {
		tb.Fatal(err)
	}
	defer fc.Close()
	if _, _, err := lc.Create(ctx, "/w", nil, nil); err != nil {
		tb.Fatal(err)
	}
	// The follower has the node before the watch starts.
	testkit.WaitFor(tb, 10*time.Second, "/w on the follower", func() bool {
		_, err := fc.Get(ctx, "/w")
		return err == nil
	})
	w, err := fc.Watch(ctx, "/w", nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	lags := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		if _, err := lc.Set(ctx, "/w", []byte{byte(i)}, -1); err != nil {
			tb.Fatal(err)
		}
		answered := time.Now()
		select {
		case <-w.Events():
			lags = append(lags, time.Since(answered))
		case <-ctx.Done():
			tb.Fatalf("no event on the follower for set %d", i)
		}
		time.Sleep(5 * time.Millisecond) // a lone writer: nothing else in flight
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	return lags
}

// TestAFollowersWatchFiresWellUnderTheCommitTimeout: a lone write on the
// leader reaches a watcher on a follower without waiting for raft's commit
// timeout (50 to 100 ms), because the leader tells its followers of the
// commit (consensus/commitnotify.go). The figures are in the benchmark.
func TestAFollowersWatchFiresWellUnderTheCommitTimeout(t *testing.T) {
	t.Parallel()
	leader, follower := leaderAndFollower(t)
	lags := loneWrites(t, leader, follower, 21)
	if median := lags[len(lags)/2]; median > 20*time.Millisecond {
		t.Fatalf("median lag %s from a set on the leader to the event on a follower, want well under the 50 ms commit timeout (lags %v)", median, lags)
	}
}

// BenchmarkFollowerWatchLag reports how long after a lone write's answer
// on the leader a watcher on a follower gets its event.
func BenchmarkFollowerWatchLag(b *testing.B) {
	leader, follower := leaderAndFollower(b)
	b.ResetTimer()
	lags := loneWrites(b, leader, follower, max(b.N, 20))
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkFollowerReadAfterWrite reports how long a linearizable read on
// a follower takes right after a lone write on the leader: it must wait
// until the follower has applied that write.
func BenchmarkFollowerReadAfterWrite(b *testing.B) {
	leader, follower := leaderAndFollower(b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lc, _ := client.New(client.Config{Servers: []string{leader.URL}})
	defer lc.Close()
	if _, _, err := lc.Create(ctx, "/r", nil, nil); err != nil {
		b.Fatal(err)
	}
	n := max(b.N, 20)
	lags := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		if _, err := lc.Set(ctx, "/r", []byte{byte(i)}, -1); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		resp, err := http.Get(follower.URL + "/v1/nodes/r")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("read on the follower: %v %v", resp, err)
		}
		resp.Body.Close()
		lags = append(lags, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLoneCreateOnTheLeader reports a lone client's create latency on
// a 3-node cluster's leader: its entry written on the leader and on a
// follower (fsync on both) before it commits.
func BenchmarkLoneCreateOnTheLeader(b *testing.B) {
	for _, store := range []string{"wal", "boltdb"} {
		b.Run(store, func(b *testing.B) {
			loneCreates(b, store)
		})
	}
}

func loneCreates(b *testing.B, store string) {
	leader, _ := leaderAndFollower(b, func(m *server.Main) { m.RaftLogStore = store })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lc, _ := client.New(client.Config{Servers: []string{leader.URL}})
	defer lc.Close()
	n := max(b.N, 20)
	lags := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, _, err := lc.Create(ctx, "/lone-"+strconv.Itoa(i), nil, nil); err != nil {
			b.Fatal(err)
		}
		lags = append(lags, time.Since(start))
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
}
