package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixedReport is a report with known figures in every kind of cell.
func fixedReport() report {
	m := func(ops, p50, p99 float64) measure {
		return measure{OpsPerSec: ops, P50ms: p50, P99ms: p99, Ops: uint64(ops * 8), StealPct: 1.5}
	}
	cells := []cell{
		{Workload: wlCreate, Clients: 1, Canopy: m(500, 1.9, 4), ZooKeeper: m(250, 3.8, 9)},
		{Workload: wlCreate, Clients: 64, Canopy: m(3000, 20, 45), ZooKeeper: m(6000, 10, 30)},
		{Workload: wlGet, Clients: 16, Canopy: m(12000, 1.2, 5), ZooKeeper: m(15000, 1, 4)},
		{Workload: wlSession, Clients: 16, Canopy: measure{SetupError: "boom", StealPct: -1}, ZooKeeper: m(200, 50, 150)},
		{Workload: wlWatch, Clients: 1, Canopy: m(400, 1.6, 5), ZooKeeper: m(300, 0.8, 3)},
	}
	for i := range cells {
		cells[i].Ratio = ratio(cells[i].Workload, cells[i].Canopy, cells[i].ZooKeeper)
	}
	return report{
		Started: time.Date(2026, 12, 7, 23, 5, 0, 0, time.UTC), WallS: 600, Duration: "8s", Warmup: "2s",
		Machine: machine{CPUs: 2, Model: "Test CPU", Kernel: "6.1", Go: "go1.26", Java: "openjdk 17", ZooKeeper: "3.8.0", Commit: "abc"},
		Cells:   cells,
	}
}

func TestRatioIsCanopyOverZooKeeperAboveOneWhenCanopyIsBetter(t *testing.T) {
	cases := []struct {
		name string
		wl   string
		c, z measure
		want float64
	}{
		{"throughput: ops/s over ops/s", wlSet, measure{OpsPerSec: 300}, measure{OpsPerSec: 600}, 0.5},
		{"throughput: faster Canopy", wlGet, measure{OpsPerSec: 900}, measure{OpsPerSec: 600}, 1.5},
		{"latency: ZooKeeper's p50 over Canopy's", wlWatch, measure{P50ms: 2}, measure{P50ms: 1}, 0.5},
		{"latency: lower Canopy p50 is better", wlLock, measure{P50ms: 1}, measure{P50ms: 3}, 3},
		{"no ZooKeeper figure", wlSet, measure{OpsPerSec: 300}, measure{}, 0},
		{"no Canopy figure", wlWatch, measure{}, measure{P50ms: 1}, 0},
		{"a failed setup", wlSet, measure{OpsPerSec: 300, SetupError: "x"}, measure{OpsPerSec: 600}, 0},
		{"NaN never leaks into JSON", wlSet, measure{OpsPerSec: math.NaN()}, measure{OpsPerSec: 1}, 0},
	}
	for _, tc := range cases {
		if got := ratio(tc.wl, tc.c, tc.z); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: ratio = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestZooCfgNamesEveryServerOnLoopbackWithFsyncAndFourLetterWords(t *testing.T) {
	all := []zkServer{
		{ID: 1, ClientPort: 12001, PeerPort: 12002, ElectionPort: 12003, DataDir: "/tmp/x/zk1/data"},
		{ID: 2, ClientPort: 12011, PeerPort: 12012, ElectionPort: 12013, DataDir: "/tmp/x/zk2/data"},
		{ID: 3, ClientPort: 12021, PeerPort: 12022, ElectionPort: 12023, DataDir: "/tmp/x/zk3/data"},
	}
	got := zooCfg(all[1], all)
	for _, want := range []string{
		"dataDir=/tmp/x/zk2/data\n",
		"clientPort=12011\n",
		"clientPortAddress=127.0.0.1\n",
		"maxClientCnxns=0\n",
		"admin.enableServer=false\n",
		"4lw.commands.whitelist=*\n",
		"server.1=127.0.0.1:12002:12003\n",
		"server.2=127.0.0.1:12012:12013\n",
		"server.3=127.0.0.1:12022:12023\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, got)
		}
	}
	// fsync is ZooKeeper's default: nothing may turn it off.
	if strings.Contains(got, "forceSync") {
		t.Errorf("zoo.cfg touches forceSync:\n%s", got)
	}
	for _, port := range []string{"2181", "2888", "3888"} {
		if strings.Contains(got, port) {
			t.Errorf("zoo.cfg uses ZooKeeper's default port %s", port)
		}
	}
}

func TestPortPickerNeverRepeatsNorUsesZooKeeperDefaults(t *testing.T) {
	var p portPicker
	seen := map[int]bool{}
	for i := 0; i < 20; i++ {
		n, err := p.next()
		if err != nil {
			t.Fatal(err)
		}
		if seen[n] || n == 2181 || n == 2888 || n == 3888 {
			t.Fatalf("port %d handed out again or a ZooKeeper default", n)
		}
		seen[n] = true
	}
}

func TestCanopyArgsNameEveryPeer(t *testing.T) {
	nodes := []canopyNode{{"n1", "127.0.0.1:1", "127.0.0.1:2", "/d/n1"}, {"n2", "127.0.0.1:3", "127.0.0.1:4", "/d/n2"}, {"n3", "127.0.0.1:5", "127.0.0.1:6", "/d/n3"}}
	got := strings.Join(canopyArgs("canopy", nodes[2], nodes), " ")
	want := "canopy serve --id n3 --http 127.0.0.1:5 --raft 127.0.0.1:6 --data-dir /d/n3 --peers n1=127.0.0.1:2,n2=127.0.0.1:4,n3=127.0.0.1:6"
	if !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s...", got, want)
	}
}

func TestMarkdownHasATablePerWorkloadWithRatiosAndNotes(t *testing.T) {
	md := markdown(fixedReport())
	for _, want := range []string{
		"| CPUs | 2 × Test CPU |",
		"| commit | abc |",
		"## create",
		"| 1 | 500 | 1.90 | 4.00 | 250 | 3.80 | 9.00 | 2.00x | 1.5% / 1.5% |",
		"| 64 | 3,000 | 20.0 | 45.0 | 6,000 | 10.0 | 30.0 | 0.50x |",
		"## get",
		"not** linearizable",
		"## session",
		"n/a",
		"Canopy setup failed: boom",
		"| 1 pair | 400 | 1.60 | 5.00 | 300 | 0.80 | 3.00 | 0.50x |",
		"![ops/s and ratio per cell](chart.png)",
		"| creates ≥ 1.0x ZooKeeper at 64 clients | 0.50x | no |",
		"| sets ≥ 1.0x ZooKeeper at 64 clients | not run | – |",
		"| watch on a follower: p50 ≤ 1 ms, p99 ≤ 3 ms | p50 1.60 / p99 5.00 ms | no |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
}

func TestChartIsAValidPNGOfTheExpectedSize(t *testing.T) {
	b, err := chartPNG(fixedReport().Cells)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("chart.png does not decode: %v", err)
	}
	if got := img.Bounds().Size(); got.X != chartW || got.Y != chartH {
		t.Errorf("size %v, want %dx%d", got, chartW, chartH)
	}
	// Both systems' colours are drawn.
	found := map[[3]uint32]bool{}
	for y := 0; y < chartH; y += 2 {
		for x := 0; x < chartW; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			found[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	for name, c := range map[string][3]uint32{"Canopy": {33, 113, 181}, "ZooKeeper": {230, 126, 34}, "better": {56, 142, 60}, "worse": {198, 40, 40}} {
		if !found[c] {
			t.Errorf("no %s bar in the chart", name)
		}
	}
	if _, err := chartPNG(nil); err != nil {
		t.Errorf("an empty chart: %v", err)
	}
}

func TestWriteReportWritesTheFolderAndPointsLatestAtIt(t *testing.T) {
	out := t.TempDir()
	dir := filepath.Join(out, "2026-12-07-2305")
	if err := writeReport(dir, fixedReport()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.md", "results.json", "chart.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var back report
	js, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(js, &back); err != nil || len(back.Cells) != 5 || back.Cells[0].Ratio != 2 {
		t.Errorf("results.json: %v %+v", err, back.Cells)
	}
	latest, _ := os.ReadFile(filepath.Join(out, "LATEST.md"))
	if !strings.Contains(string(latest), "(2026-12-07-2305/results.md)") {
		t.Errorf("LATEST.md:\n%s", latest)
	}
}

func TestFlagsRejectUnknownWorkloadsAndBadCounts(t *testing.T) {
	var errs bytes.Buffer
	o, err := parseFlags(nil, &errs)
	if err != nil || len(o.Clients) != 3 || len(o.Workloads) != 8 {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, args := range [][]string{{"-workloads", "create,nope"}, {"-clients", "1,0"}, {"-duration", "0s"}, {"extra"}} {
		if _, err := parseFlags(args, &errs); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestWithoutJavaTheRunFailsSayingWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var out, errs bytes.Buffer
	if code := realMain([]string{"-duration", "1s"}, &out, &errs); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errs.String(), "java is not installed") || !strings.Contains(errs.String(), "apt-get install zookeeper") {
		t.Errorf("message: %q", errs.String())
	}
}

func TestTargetsAreMetOnlyWithinTheirBounds(t *testing.T) {
	fast := cell{Workload: wlWatch, Clients: 1, Canopy: measure{P50ms: 0.9, P99ms: 2.9}}
	if _, ok := canopyLatency(1, 3)(fast); !ok {
		t.Error("p50 0.9 / p99 2.9 should meet p50 ≤ 1, p99 ≤ 3")
	}
	slowTail := cell{Workload: wlWatch, Clients: 1, Canopy: measure{P50ms: 0.9, P99ms: 3.1}}
	if _, ok := canopyLatency(1, 3)(slowTail); ok {
		t.Error("p99 3.1 should miss p99 ≤ 3")
	}
	if _, ok := atLeastRatio(0.8)(cell{Ratio: 0.8}); !ok {
		t.Error("0.8x should meet ≥ 0.8x")
	}
	if _, ok := atLeastRatio(1)(cell{Ratio: 0}); ok {
		t.Error("a missing ratio should not meet a target")
	}
}
