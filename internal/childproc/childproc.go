// Package childproc starts the processes a test or a tool runs beside
// itself (canopy nodes, a ZooKeeper), with their output in a log file, and
// stops them by their PID: SIGTERM, then SIGKILL. On Linux a child also
// dies if its parent dies without stopping it.
package childproc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Proc is one child process.
type Proc struct {
	Name string
	Log  string // its stdout and stderr

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Start runs argv in dir, its output to logPath. The child gets its own
// process group, so a Ctrl-C on the terminal reaches only the parent,
// which stops its children in order.
func Start(name, logPath, dir string, argv ...string) (*Proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.SysProcAttr = childAttr()
	onSpawnThread(func() { err = cmd.Start() })
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.exited)
	}()
	return p, nil
}

// Stop ends the process by its PID: SIGTERM, then SIGKILL after 5 s. It
// returns once the process has exited; a nil or exited Proc is a no-op.
func (p *Proc) Stop() {
	if p == nil || p.Dead() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Dead reports whether the process has exited.
func (p *Proc) Dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Exited is closed when the process has exited; Err then says how.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process exited (cmd.Wait's error), once it has.
func (p *Proc) Err() error {
	if !p.Dead() {
		return nil
	}
	return p.err
}

// Tail is the end of the process's log, or its Go panic and what follows,
// for an error message.
func (p *Proc) Tail() string {
	b, _ := os.ReadFile(p.Log)
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
