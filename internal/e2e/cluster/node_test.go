//go:build cluster

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The node is this machine: a container's processes can be inspected in
// /proc, which shows what the runtime really did rather than what the pod
// spec asked for.

// containerProcess finds the host PID of a container's main process: the
// process whose cgroup path ends in the container's ID and whose command is
// argv0.
func containerProcess(containerID, argv0 string) (int, error) {
	id := containerID[strings.Index(containerID, "://")+3:]
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cg, err := os.ReadFile(filepath.Join(p, "cgroup"))
		if err != nil || !strings.Contains(string(cg), id) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if strings.SplitN(string(cmdline), "\x00", 2)[0] != argv0 {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(filepath.Base(p), &pid); err == nil {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process %s in container %s", argv0, id)
}

// processUIDs returns the real, effective, saved and filesystem UIDs.
func processUIDs(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Uid:") {
			return strings.Join(strings.Fields(line)[1:], " "), nil
		}
	}
	return "", fmt.Errorf("no Uid line in /proc/%d/status", pid)
}

// processMount returns the options of the mount at point as the process
// sees it (its mount namespace), or "" if nothing is mounted there.
func processMount(pid int, point string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return "", err
	}
	opts := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == point {
			opts = f[5] // the last mount at a point is the one in effect
		}
	}
	return opts, nil
}
