package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// One cluster per machine: the node's ports, bridge and cgroups are
// machine-wide. ownerFile names the folder of the running cluster, so a
// second `up` from another clone refuses instead of restoring the machine
// to a snapshot that the first cluster had already changed.
const ownerFile = "/run/mcp-session-cluster.owner"

// claimMachine records dir as the machine's cluster, refusing when
// another folder's cluster still runs.
func claimMachine(dir string) error {
	b, err := os.ReadFile(ownerFile)
	if err == nil {
		other := strings.TrimSpace(string(b))
		if other != dir {
			if st, err := readState(other); err == nil {
				for _, d := range st.Daemons {
					if d.alive() {
						return fmt.Errorf("another cluster runs on this machine, from %s (%s, pid %d): stop it first (CLUSTER_DIR=%s make cluster-down)", other, d.Name, d.PID, other)
					}
				}
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(ownerFile), 0o755); err != nil {
		return err
	}
	return os.WriteFile(ownerFile, []byte(dir+"\n"), 0o644)
}

// releaseMachine forgets dir as the machine's cluster.
func releaseMachine(dir string) {
	if b, err := os.ReadFile(ownerFile); err == nil && strings.TrimSpace(string(b)) == dir {
		_ = os.Remove(ownerFile)
	}
}
