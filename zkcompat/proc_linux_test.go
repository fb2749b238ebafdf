package zkcompat

import "syscall"

// childAttr makes the kernel kill a child (ZooKeeper, canopy) if the test
// binary dies without running its cleanup (a panic, a -timeout).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
