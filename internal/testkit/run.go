package testkit

import (
	"bytes"
	"flag"
	"runtime"
	"strconv"
	"sync"
)

// RaiseParallel runs more tests at once than there are CPUs (8 at least)
// unless -parallel says otherwise, for packages whose tests mostly wait
// (on raft's disk writes, session timeouts, the reaper), not compute.
// Fuzzing keeps its default: there -parallel is the worker count. Call it
// from TestMain, after flag.Parse.
func RaiseParallel() {
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if fuzz := flag.Lookup("test.fuzz"); explicit || fuzz != nil && fuzz.Value.String() != "" {
		return
	}
	if err := flag.Set("test.parallel", strconv.Itoa(max(8, runtime.GOMAXPROCS(0)))); err != nil {
		panic(err)
	}
}

// SyncBuffer is a buffer that something running (a command, a node's log)
// writes while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
