package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMillionNodes measures the product's memory and snapshot figures
// on a real process: 1,000,000 znodes of 100 bytes (created 1,000 per
// multi), the server's RSS, then a restart that restores the snapshot.
//
//	go test -run '^$' -bench MillionNodes -benchtime 1x ./cmd/canopy/
func BenchmarkMillionNodes(b *testing.B) {
	const nodes, perMulti = 1_000_000, 1000
	dir := b.TempDir()
	// A low threshold so that the fill's ~1,000 entries end in a snapshot.
	flags := []string{"--snapshot-threshold", "200", "--snapshot-interval", "1s", "--trailing-logs", "100"}
	if os.Getenv("CANOPY_PPROF") != "" {
		flags = append(flags, "--enable-pprof")
	}
	p := startProc(b, dir, flags...)
	client := &http.Client{Timeout: time.Minute}
	data := strings.Repeat("x", 100)
	start := time.Now()
	for parent := 0; parent < nodes/perMulti; parent++ {
		ops := make([]map[string]any, 0, perMulti+1)
		ops = append(ops, map[string]any{"op": "create", "path": fmt.Sprintf("/m%04d", parent)})
		for i := 0; i < perMulti-1; i++ {
			ops = append(ops, map[string]any{"op": "create", "path": fmt.Sprintf("/m%04d/n%04d", parent, i), "data": data})
		}
		body, _ := json.Marshal(map[string]any{"ops": ops})
		resp, err := client.Post(p.url+"/v1/multi", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("multi %d: status %d", parent, resp.StatusCode)
		}
	}
	fill := time.Since(start)
	rss := rssMB(b, p.cmd.Process.Pid)
	count := statusOf(b, p.url)["znode_count"]
	b.Logf("filled %v znodes in %v; RSS %.0f MB", count, fill, rss)
	if dump := os.Getenv("CANOPY_PPROF"); dump != "" {
		if resp, err := http.Get(p.url + "/debug/pprof/heap"); err == nil {
			f, _ := os.Create(dump)
			f.ReadFrom(resp.Body)
			f.Close()
			resp.Body.Close()
		}
		if resp, err := http.Get(p.url + "/metrics"); err == nil {
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(buf.String(), "\n") {
				if strings.HasPrefix(line, "go_memstats_heap_inuse_bytes") || strings.HasPrefix(line, "go_memstats_heap_sys_bytes") ||
					strings.HasPrefix(line, "go_memstats_next_gc_bytes") || strings.HasPrefix(line, "process_resident_memory_bytes") {
					b.Log(line)
				}
			}
		}
	}

	// Let raft take its snapshot and the runtime return the fill's garbage
	// to the OS, then measure the steady state and restart.
	time.Sleep(30 * time.Second)
	settled := rssMB(b, p.cmd.Process.Pid)
	b.ReportMetric(settled, "RSS-MB-settled")
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	start = time.Now()
	p2 := startProc(b, dir, flags...)
	restore := time.Since(start)
	if got := statusOf(b, p2.url)["znode_count"]; got != count {
		b.Fatalf("znode_count %v after restart, %v before", got, count)
	}
	rss2 := rssMB(b, p2.cmd.Process.Pid)
	b.ReportMetric(rss, "RSS-MB-filled")
	b.ReportMetric(rss2, "RSS-MB-restored")
	b.ReportMetric(restore.Seconds(), "restart-to-ready-s")
	b.ReportMetric(fill.Seconds(), "fill-s")
}

// rssMB is the process's resident set in MB; it logs the anonymous part
// (the Go heap and stacks) and the file-backed part (bolt's memory map,
// page cache the kernel can reclaim) separately.
func rssMB(b testing.TB, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := map[string]float64{}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "Rss") || strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			fields[strings.TrimSuffix(f[0], ":")] = kb / 1024
		}
	}
	if _, ok := fields["VmRSS"]; !ok {
		b.Fatal("no VmRSS")
	}
	b.Logf("RSS %.0f MB: anonymous %.0f MB, file-backed %.0f MB", fields["VmRSS"], fields["RssAnon"], fields["RssFile"])
	return fields["VmRSS"]
}
