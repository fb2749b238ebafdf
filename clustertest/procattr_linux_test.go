package clustertest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a node get SIGKILL if the test binary dies without
// its cleanups (a panic, -timeout), so no canopy is left running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
