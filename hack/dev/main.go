// Command dev runs the whole thing locally for `make dev`: a real etcd and
// kube-apiserver (the binaries hack/control-plane.sh builds) with state kept
// under .dev/, the CRDs installed, and the manager binary with its MCP
// endpoint on loopback. Ctrl-C stops everything it started; the data stays
// for the next run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	var (
		dir      = flag.String("dir", ".dev", "Folder for the kubeconfig, etcd data and session data (kept across runs).")
		manager  = flag.String("manager", "bin/manager", "The manager binary to run.")
		port     = flag.Int("apiserver-port", 16443, "Port of the local kube-apiserver.")
		mcpAddr  = flag.String("mcp-bind-address", "127.0.0.1:8090", "Address of the MCP endpoint (loopback: auth is off).")
		metrics  = flag.String("metrics-bind-address", "127.0.0.1:8080", "Address of the manager's metrics endpoint.")
		probes   = flag.String("health-probe-bind-address", "127.0.0.1:8081", "Address of the manager's probes.")
		crdDir   = flag.String("crds", "config/crd/bases", "CRD manifests to install.")
		noManage = flag.Bool("control-plane-only", false, "Start only the control plane (for running the manager from an IDE).")
		storeURL = flag.String("store", "", "The manager's store: empty for Pebble in <dir>/data (kept across runs), or a postgres:// URL (make dev STORE=postgres starts a private one).")
	)
	flag.Parse()
	if err := run(*dir, *manager, *port, *mcpAddr, *metrics, *probes, *crdDir, *storeURL, *noManage, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(dir, manager string, port int, mcpAddr, metricsAddr, probeAddr, crdDir, storeURL string, controlPlaneOnly bool, extra []string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, d := range []string{"etcd", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set; run through `make dev`")
	}

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{crdDir},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dir, "etcd")}
	api := &envtest.APIServer{}
	api.SecurePort = port //nolint:staticcheck // the only public way to pin the port, so .dev/kubeconfig stays valid
	env.ControlPlane.APIServer = api

	fmt.Println("dev: starting etcd and kube-apiserver ...")
	started := time.Now()
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() {
		fmt.Println("dev: stopping control plane (data kept in " + dir + ")")
		_ = env.Stop()
	}()

	admin, err := env.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return err
	}
	fmt.Printf("dev: control plane up in %s\n", time.Since(started).Round(100*time.Millisecond))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if controlPlaneOnly {
		printUsage(kcPath, "", dir, storeURL)
		<-ctx.Done()
		return nil
	}

	store := "pebble:" + filepath.Join(dir, "data")
	if storeURL != "" {
		store = storeURL
	}
	args := append([]string{
		"--store=" + store,
		"--mcp-bind-address=" + mcpAddr,
		"--auth=none",
		"--metrics-bind-address=" + metricsAddr,
		"--health-probe-bind-address=" + probeAddr,
	}, extra...)
	cmd := exec.Command(manager, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group: Ctrl-C reaches dev, which then stops the manager
	// in order (flushing status) before the apiserver goes away.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start manager: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	printUsage(kcPath, mcpAddr, dir, storeURL)

	select {
	case err := <-done:
		return fmt.Errorf("manager exited: %w", err)
	case <-ctx.Done():
	}
	fmt.Println("\ndev: stopping manager ...")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return nil
}

func printUsage(kubeconfig, mcpAddr, dir, storeURL string) {
	fmt.Println()
	fmt.Println("mcp-session-operator is running locally.")
	fmt.Println()
	fmt.Printf("  kubectl:   KUBECONFIG=%s kubectl get mcpsessions -A\n", kubeconfig)
	if mcpAddr != "" {
		fmt.Printf("  MCP:       http://%s/mcp   (Streamable HTTP; auth is off on loopback, no token needed)\n", mcpAddr)
		fmt.Println("  demo:      make demo        (in another terminal)")
	}
	if storeURL == "" {
		fmt.Printf("  data:      %s (kept across runs)\n", dir)
	} else {
		fmt.Printf("  control plane: %s (kept across runs)\n", dir)
		fmt.Printf("  store:     %s\n", storeURL)
	}
	fmt.Println()
	fmt.Println("Press Ctrl-C to stop.")
}
