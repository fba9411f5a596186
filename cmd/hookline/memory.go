package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// setMemoryLimit sets the Go runtime's soft memory limit, so that the
// garbage collector works harder before the heap outgrows the memory the
// process may use, and returns it (0 when there is none). limit is
// --memory-limit: a size, 0 for 90% of the cgroup's limit (none without a
// cgroup limit), -1 for none. GOMEMLIMIT, when set, wins.
func setMemoryLimit(limit int64, log *slog.Logger) int64 {
	switch {
	case os.Getenv("GOMEMLIMIT") != "":
	case limit > 0:
		debug.SetMemoryLimit(limit)
	case limit == 0:
		if _, err := memlimit.Set(memlimit.WithRatio(0.9),
			memlimit.WithProvider(memlimit.FromCgroup), memlimit.WithLogger(slog.New(slog.DiscardHandler))); err != nil {
			log.Debug("no cgroup memory limit", "err", err)
		}
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		log.Info("memory limit", "bytes", l)
		return l
	}
	return 0
}

// defaultQueueBytes is the most payload bytes held in memory when neither
// --memory-queue-bytes nor a memory limit says otherwise.
const defaultQueueBytes = 256 << 20

// memoryQueueBytes returns the bound on payload bytes held in memory:
// --memory-queue-bytes when set, else a quarter of the memory limit, at most
// defaultQueueBytes.
func memoryQueueBytes(flag, memLimit int64) int64 {
	if flag > 0 {
		return flag
	}
	if memLimit > 0 {
		return min(defaultQueueBytes, max(memLimit/4, 16<<20))
	}
	return defaultQueueBytes
}
