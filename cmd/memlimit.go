package main

import (
	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// MemoryLimitRatio is the share of the container's memory limit the Go
// runtime is given as its soft limit (GOMEMLIMIT). The manager is pure Go
// (the image is built with CGO_ENABLED=0, so even Pebble's block cache is
// on the Go heap): nearly everything the kernel charges to the container
// is memory the runtime accounts for, and 10% is left for the rest (page
// tables, the kernel's share of socket and file buffers). With 512Mi in
// config/manager/manager.yaml that is 460 MiB: the garbage collector
// works harder as the heap nears it instead of the kernel killing the pod
// at 512Mi.
const MemoryLimitRatio = 0.9

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
