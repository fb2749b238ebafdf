package loadgen

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// CPUTimes are the all-CPU counters of /proc/stat's "cpu" line, in jiffies.
type CPUTimes struct {
	Total uint64 // user nice system idle iowait irq softirq steal
	Steal uint64
}

// ReadCPU reads /proc/stat; ok is false where there is none (not Linux).
func ReadCPU() (CPUTimes, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return CPUTimes{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t, ok := parseCPULine(sc.Text()); ok {
			return t, true
		}
	}
	return CPUTimes{}, false
}

// parseCPULine reads "cpu  user nice system idle iowait irq softirq steal
// guest guest_nice". Guest time is already counted in user and nice.
func parseCPULine(line string) (CPUTimes, bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return CPUTimes{}, false
	}
	var t CPUTimes
	for i := 1; i <= 8; i++ {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return CPUTimes{}, false
		}
		t.Total += v
		if i == 8 {
			t.Steal = v
		}
	}
	return t, true
}

// StealPercent is the share of CPU time between a and b that the
// hypervisor gave to other guests.
func StealPercent(a, b CPUTimes) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return 100 * float64(b.Steal-a.Steal) / float64(b.Total-a.Total)
}
