package bench

import "syscall"

// dieWithParent returns process attributes that make Linux kill a child
// server when the bench dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
