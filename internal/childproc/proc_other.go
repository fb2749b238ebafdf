//go:build !linux

package childproc

import "syscall"

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func onSpawnThread(start func()) { start() }
