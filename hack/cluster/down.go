package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stopOrder is the order that lets each component clean up after itself:
// the workloads go first (through the API, while the kubelet still runs),
// then the node, then the runtime, then the control plane.
var stopOrder = []string{"provisioner", "kube-proxy", "kubelet", "containerd", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"}

// down stops the cluster recorded in dir and restores the machine to the
// snapshot `up` took. It goes on after a failed step and reports every
// problem at the end; the state file stays until the machine matches.
func down(dir string) error {
	st, err := readState(dir)
	if err != nil {
		if _, serr := os.Stat(statePath(dir)); errors.Is(serr, os.ErrNotExist) {
			fmt.Println("cluster: nothing to stop in", dir)
			return nil
		}
		return err
	}
	l := st.Layout
	var problems []string
	note := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		problems = append(problems, msg)
		fmt.Fprintln(os.Stderr, "cluster down:", msg)
	}
	step := stepper()

	if d := st.daemon("kube-apiserver"); d != nil && d.alive() {
		if err := deleteWorkloads(l); err != nil {
			note("deleting workloads: %v", err)
		}
	}
	step("workloads deleted")
	for _, name := range stopOrder {
		d := st.daemon(name)
		if d == nil {
			continue
		}
		if err := d.stop(20 * time.Second); err != nil {
			note("%v", err)
		}
		switch name {
		case "kube-proxy":
			// Its own chains; the kubelet's and the nfacct counters are
			// removed below.
			if out, err := exec.Command(l.bin("kube-proxy"), "--cleanup", "--v=0").CombinedOutput(); err != nil {
				note("kube-proxy --cleanup: %v: %s", err, out)
			}
		case "containerd":
			// Shims outlive containerd; only those of this cluster's
			// socket are ours. Their containers go with the cgroups below.
			for _, pid := range processesMatching("containerd-shim", l.containerdSocket()) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	killCgroupProcesses(st.Snapshot)
	step("processes stopped")

	restoreMachine(st, note)
	step("machine restored")

	if left := processesMatching(l.Dir); len(left) > 0 {
		note("processes of the cluster still run: %v", left)
	}
	now, err := takeSnapshot()
	if err != nil {
		note("re-reading the machine: %v", err)
	} else if d := st.Snapshot.diff(now); len(d) > 0 {
		note("the machine differs from before the cluster:\n  %s", strings.Join(d, "\n  "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s); state kept in %s for another `make cluster-down`", len(problems), statePath(dir))
	}
	if err := os.Remove(statePath(dir)); err != nil {
		return err
	}
	fmt.Println("cluster: stopped; the machine is as it was before `make cluster` (logs kept in " + l.path("logs") + ")")
	return nil
}

func (st *state) daemon(name string) *daemon {
	for i := range st.Daemons {
		if st.Daemons[i].Name == name {
			return &st.Daemons[i]
		}
	}
	return nil
}

// deleteWorkloads removes every workload through the API and waits until
// the node runs no container: the kubelet then tears down pod networking
// and volumes itself.
func deleteWorkloads(l *layout) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs, err := clientset(l.kubeconfig())
	if err != nil {
		return err
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	for _, ns := range nss.Items {
		n := ns.Name
		// Controllers first, so nothing recreates the pods.
		_ = cs.AppsV1().Deployments(n).DeleteCollection(ctx, opts, metav1.ListOptions{})
		_ = cs.AppsV1().StatefulSets(n).DeleteCollection(ctx, opts, metav1.ListOptions{})
		_ = cs.AppsV1().DaemonSets(n).DeleteCollection(ctx, opts, metav1.ListOptions{})
		_ = cs.AppsV1().ReplicaSets(n).DeleteCollection(ctx, opts, metav1.ListOptions{})
		_ = cs.BatchV1().Jobs(n).DeleteCollection(ctx, opts, metav1.ListOptions{})
	}
	grace := int64(5)
	for _, ns := range nss.Items {
		_ = cs.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
	}
	for {
		pods, perr := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		tasks, terr := exec.CommandContext(ctx, "ctr", "--address", l.containerdSocket(), "-n", "k8s.io", "tasks", "ls", "-q").Output()
		if perr == nil && terr == nil && len(pods.Items) == 0 && strings.TrimSpace(string(tasks)) == "" {
			return nil
		}
		if ctx.Err() != nil {
			var names []string
			if perr == nil {
				for _, p := range pods.Items {
					names = append(names, p.Namespace+"/"+p.Name)
				}
			}
			return fmt.Errorf("after 90 s, pods %v and containers %q remain", names, strings.Fields(string(tasks)))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// killCgroupProcesses SIGKILLs whatever still runs in a cgroup the
// cluster created (a container whose shim was killed).
func killCgroupProcesses(snap *snapshot) {
	now, err := topCgroups()
	if err != nil {
		return
	}
	for _, cg := range now {
		if slices.Contains(snap.Cgroups, cg) {
			continue
		}
		_ = filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				var pid int
				if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

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

// check compares the machine with the snapshot of the running (or
// half-stopped) cluster in dir.
func check(dir string) error {
	st, err := readState(dir)
	if err != nil {
		return err
	}
	now, err := takeSnapshot()
	if err != nil {
		return err
	}
	d := st.Snapshot.diff(now)
	for _, line := range d {
		fmt.Println(line)
	}
	if len(d) > 0 {
		return fmt.Errorf("%d difference(s) from before the cluster", len(d))
	}
	return nil
}
