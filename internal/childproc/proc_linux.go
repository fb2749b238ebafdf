package childproc

import (
	"runtime"
	"sync"
	"syscall"
)

// Children die with us (SIGKILL) should we die without stopping them.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

var (
	spawnOnce sync.Once
	spawnCh   chan func()
)

// onSpawnThread runs start on one OS thread that lives as long as the
// process: Linux sends Pdeathsig when the thread that forked the child
// exits, not the process, and Go may end a thread a goroutine had locked.
func onSpawnThread(start func()) {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread is never reused or ended
			for f := range spawnCh {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawnCh <- func() { start(); close(done) }
	<-done
}
