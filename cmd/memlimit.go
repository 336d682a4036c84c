package main

import (
	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// MemoryLimitRatio is the share of the container's memory limit the Go
// runtime is given as its soft limit (GOMEMLIMIT). The image is built with
// CGO_ENABLED=0, so the heap (Pebble's block cache and memtables
// included), the stacks and the runtime's own structures are all under
// the limit; what is not is the binary's code and data as they are paged
// in (about 40 to 60 MiB resident for this manager) and the kernel's
// buffers. 20% is left for those: with 512Mi in
// config/manager/manager.yaml the limit is 410 MiB, and the garbage
// collector works harder as the heap nears it instead of the kernel
// killing the pod at 512Mi.
const MemoryLimitRatio = 0.8

// setMemoryLimit sets GOMEMLIMIT to MemoryLimitRatio of the cgroup's
// memory limit, read when the manager starts and again when it changes
// (automemlimit). It is computed rather than written into the manifest so
// that raising the Deployment's limit for more sessions raises it too; a
// GOMEMLIMIT in the environment wins, and outside a container (no limit)
// nothing is set.
func setMemoryLimit(log logr.Logger) {
	limit, err := memlimit.SetGoMemLimitWithOpts(memlimit.WithRatio(MemoryLimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
	switch {
	case err != nil:
		log.Error(err, "could not set GOMEMLIMIT from the container's memory limit")
	case limit > 0:
		log.Info("GOMEMLIMIT set from the container's memory limit", "bytes", limit, "ratio", MemoryLimitRatio)
	}
}
