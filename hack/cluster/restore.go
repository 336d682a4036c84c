package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Putting the machine back: what the node changed outside its processes,
// undone against the snapshot `up` took.

// restoreMachine undoes what the node changed outside its processes.
func restoreMachine(st *state, note func(string, ...any)) {
	l, snap := st.Layout, st.Snapshot
	unmountNew(l, snap, note)
	for _, p := range []string{"/run/netns", "/var/run/netns"} {
		es, _ := os.ReadDir(p)
		for _, e := range es {
			if strings.HasPrefix(e.Name(), "cni-") {
				_ = os.Remove(filepath.Join(p, e.Name()))
			}
		}
	}
	deleteNewLinks(snap, note)
	restoreNFTables(snap, note)
	restoreLegacyIptables(snap, note)
	if now, err := nfacctNames(); err == nil {
		for _, n := range now {
			if !slices.Contains(snap.NFAcct, n) {
				if out, err := exec.Command("nfacct", "delete", n).CombinedOutput(); err != nil {
					note("nfacct delete %s: %v: %s", n, err, out)
				}
			}
		}
	}
	removeNewCgroups(snap, note)
	restoreSysctls(snap, note)
	for _, p := range outsidePaths {
		if snap.Paths[p] {
			continue
		}
		if err := removeUnmounted(p); err != nil {
			note("%v", err)
		}
	}
	// The cluster's own folder, but its logs and state.
	es, _ := os.ReadDir(l.Dir)
	for _, e := range es {
		if e.Name() == "logs" || e.Name() == "state.json" {
			continue
		}
		if err := removeUnmounted(filepath.Join(l.Dir, e.Name())); err != nil {
			note("%v", err)
		}
	}
}

// unmountNew unmounts, deepest first, every mount that appeared under the
// cluster's folder or the paths the node writes outside it.
func unmountNew(l *layout, snap *snapshot, note func(string, ...any)) {
	roots := append([]string{l.Dir}, outsidePaths...)
	for attempt := 0; attempt < 3; attempt++ {
		ms, err := mounts()
		if err != nil {
			note("reading mounts: %v", err)
			return
		}
		var todo []string
		for _, m := range ms {
			if slices.Contains(snap.Mounts, m.Point) {
				continue
			}
			for _, r := range roots {
				if m.Point == r || strings.HasPrefix(m.Point, r+"/") {
					todo = append(todo, m.Point)
					break
				}
			}
		}
		if len(todo) == 0 {
			return
		}
		// Deepest first; a point mounted twice is unmounted twice.
		slices.SortFunc(todo, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
		for _, p := range todo {
			if err := syscall.Unmount(p, 0); err != nil {
				if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && attempt == 2 {
					note("unmount %s: %v", p, err)
				}
			}
		}
	}
}

// removeUnmounted deletes path, refusing if anything is still mounted below
// it: RemoveAll would otherwise walk into a bind mount of someone's data.
func removeUnmounted(path string) error {
	ms, err := mounts()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Point == path || strings.HasPrefix(m.Point, path+"/") {
			return fmt.Errorf("not removing %s: %s is still mounted", path, m.Point)
		}
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// deleteNewLinks deletes the pods' bridge and any veth left behind.
func deleteNewLinks(snap *snapshot, note func(string, ...any)) {
	now, err := links()
	if err != nil {
		note("listing links: %v", err)
		return
	}
	for _, n := range now {
		if slices.Contains(snap.Links, n) {
			continue
		}
		if n != bridgeName && !strings.HasPrefix(n, "veth") {
			continue // not the node's: reported by the final comparison
		}
		if out, err := exec.Command("ip", "link", "delete", n).CombinedOutput(); err != nil {
			// A veth goes with its peer: already gone is fine.
			if _, serr := os.Stat("/sys/class/net/" + n); serr == nil {
				note("ip link delete %s: %v: %s", n, err, out)
			}
		}
	}
}

// restoreNFTables deletes the tables that appeared, and in tables that were
// there before, the chains that appeared with every rule that jumps to
// them. iptables-nft keeps the kubelet's KUBE-FIREWALL and canary chains
// (which kube-proxy --cleanup leaves) in these tables.
func restoreNFTables(snap *snapshot, note func(string, ...any)) {
	now, err := nftObjects()
	if err != nil {
		note("%v", err)
		return
	}
	for _, o := range now {
		if slices.Contains(snap.NFT, o) {
			continue
		}
		f := strings.Fields(o)
		if len(f) == 2 { // a table that did not exist
			if out, err := exec.Command("nft", "delete", "table", f[0], f[1]).CombinedOutput(); err != nil {
				note("nft delete table %s: %v: %s", o, err, out)
			}
		}
	}
	now, _ = nftObjects()
	for _, o := range now {
		f := strings.Fields(o)
		if slices.Contains(snap.NFT, o) || len(f) != 3 {
			continue
		}
		deleteJumpsTo(f[0], f[1], f[2], note)
		_ = exec.Command("nft", "flush", "chain", f[0], f[1], f[2]).Run()
		if out, err := exec.Command("nft", "delete", "chain", f[0], f[1], f[2]).CombinedOutput(); err != nil {
			note("nft delete chain %s: %v: %s", o, err, out)
		}
	}
}

// deleteJumpsTo removes the rules of a table that jump or go to chain.
func deleteJumpsTo(family, table, chain string, note func(string, ...any)) {
	out, err := exec.Command("nft", "-a", "list", "table", family, table).Output()
	if err != nil {
		return
	}
	current := ""
	for _, line := range strings.Split(string(out), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "chain ") {
			current = strings.Fields(t)[1]
			continue
		}
		if current == chain || !(strings.Contains(t, "jump "+chain) || strings.Contains(t, "goto "+chain)) {
			continue
		}
		if i := strings.LastIndex(t, "# handle "); i >= 0 {
			h := strings.TrimSpace(t[i+len("# handle "):])
			if out, err := exec.Command("nft", "delete", "rule", family, table, current, "handle", h).CombinedOutput(); err != nil {
				note("nft delete rule %s %s %s handle %s: %v: %s", family, table, current, h, err, out)
			}
		}
	}
}

// restoreLegacyIptables removes rules and chains that appeared in the
// legacy tables (none, unless something picked the legacy backend).
func restoreLegacyIptables(snap *snapshot, note func(string, ...any)) {
	for _, o := range legacyChains() {
		if slices.Contains(snap.IptablesLegacy, o) {
			continue
		}
		f := strings.Fields(o)
		tool := strings.TrimSuffix(f[0], "-save")
		if len(f) > 3 && f[2] == "-A" {
			args := append([]string{"-t", f[1], "-D"}, f[3:]...)
			if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
				note("%s %v: %v: %s", tool, args, err, out)
			}
		}
	}
	for _, o := range legacyChains() {
		f := strings.Fields(o)
		if slices.Contains(snap.IptablesLegacy, o) || len(f) != 3 {
			continue
		}
		tool := strings.TrimSuffix(f[0], "-save")
		_ = exec.Command(tool, "-t", f[1], "-F", f[2]).Run()
		_ = exec.Command(tool, "-t", f[1], "-X", f[2]).Run()
	}
}

// removeNewCgroups removes the cgroups the kubelet and runc created, leaves
// first.
func removeNewCgroups(snap *snapshot, note func(string, ...any)) {
	now, err := topCgroups()
	if err != nil {
		note("listing cgroups: %v", err)
		return
	}
	for _, cg := range now {
		if slices.Contains(snap.Cgroups, cg) {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			var err error
			for i := 0; i < 20; i++ { // a killed task leaves its cgroup a moment later
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				note("rmdir %s: %v", d, err)
			}
		}
	}
}

// restoreSysctls writes back every value that changed. ip_forward goes
// first: writing it resets every interface's forwarding and
// accept_redirects, which are then compared again.
func restoreSysctls(snap *snapshot, note func(string, ...any)) {
	first := "net/ipv4/ip_forward"
	write := func(k, v string) {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			note("restoring sysctl %s=%s: %v", k, v, err)
		}
	}
	if now, err := readSysctls(); err == nil && now[first] != snap.Sysctls[first] {
		write(first, snap.Sysctls[first])
	}
	now, err := readSysctls()
	if err != nil {
		note("reading sysctls: %v", err)
		return
	}
	for k, v := range snap.Sysctls {
		if cur, ok := now[k]; ok && cur != v {
			write(k, v)
		}
	}
}
