// Command cluster runs a one-node Kubernetes cluster with real pods on this
// machine, for users without kind and for `make test-cluster`: the project's
// etcd and kube-apiserver, plus kube-controller-manager, kube-scheduler,
// kubelet and kube-proxy (v1.37.2, built from Go modules by
// hack/control-plane.sh --node), containerd and runc from Debian's packages,
// a bridge network, CoreDNS, and a default StorageClass served by a small
// local-directory provisioner.
//
// The machine is shared: before it changes anything, `up` records what it
// will touch (sysctls, mounts, links, nftables tables, nfacct counters,
// cgroups and a few fixed paths), and `down` stops every process it started
// by PID, in the order that lets each clean up after itself, then puts the
// machine back and compares it with that record. `up` tears down by itself
// when it fails halfway.
//
// Usage (hack/cluster.sh and the Makefile call it):
//
//	cluster up --dir .cluster --assets bin/k8s/1.37.2-linux-amd64 --image-tool bin/image --pause bin/pause
//	cluster load --dir .cluster IMAGE.tar...
//	cluster down --dir .cluster
//	cluster check --dir .cluster
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "up":
		err = cmdUp(ctx, args)
	case "down":
		err = cmdDown(args)
	case "load":
		err = cmdLoad(ctx, args)
	case "check":
		err = cmdCheck(args)
	case "provisioner":
		err = cmdProvisioner(ctx, args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cluster up|down|load|check [flags]")
	os.Exit(2)
}

// dirFlag adds --dir to fs and returns a function giving its absolute path.
func dirFlag(fs *flag.FlagSet) func() (string, error) {
	d := fs.String("dir", ".cluster", "Folder holding the cluster's state, certificates, data and logs.")
	return func() (string, error) { return filepath.Abs(*d) }
}

func cmdUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	dir := dirFlag(fs)
	assets := fs.String("assets", "", "Folder with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl (hack/control-plane.sh --node).")
	imageTool := fs.String("image-tool", "", "The image builder (hack/image), for the pause and CoreDNS images.")
	pause := fs.String("pause", "", "The pause binary (hack/cluster/pause), static.")
	nodeIP := fs.String("node-ip", "", "The node's address (default: the IPv4 address of the interface with the default route).")
	keep := fs.Bool("keep-on-failure", false, "Leave a half-started cluster running for inspection instead of tearing it down.")
	timeout := fs.Duration("timeout", 5*time.Minute, "Give up if the cluster is not ready within this long.")
	_ = fs.Parse(args)
	d, err := dir()
	if err != nil {
		return err
	}
	if *assets == "" || *imageTool == "" || *pause == "" {
		return fmt.Errorf("--assets, --image-tool and --pause are required")
	}
	lay, err := newLayout(d, *assets, *imageTool, *pause, *nodeIP)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	if err := up(ctx, lay); err != nil {
		if *keep {
			return fmt.Errorf("%w (left running: --keep-on-failure; logs in %s)", err, lay.path("logs"))
		}
		fmt.Fprintf(os.Stderr, "cluster up failed: %v\ntearing down (logs stay in %s)\n", err, lay.path("logs"))
		if derr := down(lay.Dir); derr != nil {
			fmt.Fprintf(os.Stderr, "teardown: %v\n", derr)
		}
		return err
	}
	fmt.Printf("\nThe one-node cluster is up (%s).\n\n  export KUBECONFIG=%s\n  kubectl get nodes\n\nStop it with: make cluster-down\n",
		time.Since(start).Round(100*time.Millisecond), lay.kubeconfig())
	return nil
}

func cmdDown(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	dir := dirFlag(fs)
	_ = fs.Parse(args)
	d, err := dir()
	if err != nil {
		return err
	}
	return down(d)
}

func cmdCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	dir := dirFlag(fs)
	_ = fs.Parse(args)
	d, err := dir()
	if err != nil {
		return err
	}
	return check(d)
}

func cmdLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	dir := dirFlag(fs)
	_ = fs.Parse(args)
	d, err := dir()
	if err != nil {
		return err
	}
	st, err := readState(d)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("name at least one image tarball")
	}
	for _, f := range fs.Args() {
		if err := importImage(ctx, st.Layout, f); err != nil {
			return err
		}
	}
	return nil
}
