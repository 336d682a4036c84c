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
	releaseMachine(dir)
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
