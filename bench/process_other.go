//go:build !linux

package bench

import "syscall"

// dieWithParent returns no attributes: outside Linux there is no parent
// death signal, and a child server outlives a bench killed with -9.
func dieWithParent() *syscall.SysProcAttr { return nil }
