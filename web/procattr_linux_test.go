package web

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a child process get SIGKILL if the test binary dies
// without its cleanups (a panic, a timeout), so no canopy is left running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
