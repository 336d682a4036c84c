// Package memory gives the manager's Go runtime its soft memory limit
// (GOMEMLIMIT) from the container's memory limit.
package memory

import (
	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
)

// LimitRatio is the share of the container's memory limit the Go runtime
// is given as its soft limit (GOMEMLIMIT). The image is built with
// CGO_ENABLED=0, so the heap (Pebble's block cache and memtables
// included), the stacks and the runtime's own structures are all under
// the limit; what is not is the binary's code and data as they are paged
// in and the kernel's buffers: 50 to 70 MiB resident for this manager in
// `make bench-scale` at 100,000 sessions, where 0.8 (410 MiB of the
// manifest's 512Mi) let the resident set reach 469 MiB and 0.65 (333 MiB)
// 401 MiB. With 0.6 the limit is 307 MiB for 512Mi, some 50 MiB above the
// live heap at 100,000 sessions: the garbage collector works harder as
// the heap nears it, well before the kernel would kill the pod.
const LimitRatio = 0.6

// SetLimit sets GOMEMLIMIT to LimitRatio of the cgroup's memory limit,
// read when the manager starts and again when it changes (automemlimit).
// It is computed rather than written into the manifest so that raising
// the Deployment's limit for more sessions raises it too; a GOMEMLIMIT in
// the environment wins, and outside a container (no limit) nothing is
// set.
func SetLimit(log logr.Logger) {
	limit, err := memlimit.SetGoMemLimitWithOpts(memlimit.WithRatio(LimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
	switch {
	case err != nil:
		log.Error(err, "could not set GOMEMLIMIT from the container's memory limit")
	case limit > 0:
		log.Info("GOMEMLIMIT set from the container's memory limit", "bytes", limit, "ratio", LimitRatio)
	}
}
