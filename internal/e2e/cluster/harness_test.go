//go:build cluster

// Package cluster tests the operator as users run it: its image, installed
// from dist/install.yaml into the one-node cluster of `make cluster`, with
// real pods on a real kubelet, reached by an agent pod through the MCP
// Service's DNS name. `make test-cluster` builds and loads the images,
// starts the cluster, runs these tests and stops the cluster.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The installer's names (config/default's namePrefix and namespace).
const (
	installNamespace = "mcp-session-operator-system"
	deploymentName   = "mcp-session-operator-controller-manager"
	pvcName          = "mcp-session-operator-data"
	serviceName      = "mcp-session-operator-mcp"
	managerSelector  = "app.kubernetes.io/name=mcp-session-operator,app.kubernetes.io/component=manager"
	audience         = "mcp-session-operator"
	agentNamespace   = "payments"
	agentAccount     = "debug-assistant"
)

// env is what make test-cluster passes in.
type env struct {
	kubeconfig, kubectl string
	installer           string // dist/install.yaml
	image, imageTar     string // the operator's image and its tarball
	upgradeImage        string // a second tag (another version), for the upgrade
	upgradeImageTar     string
	agentImage          string // hack/demo as an image
	agentSample         string // config/samples/agent_serviceaccount.yaml
	managerBinary       string // the manager for this machine, for manager connect
}

func getEnv(t *testing.T) env {
	t.Helper()
	e := env{
		kubeconfig: os.Getenv("KUBECONFIG"), kubectl: os.Getenv("KUBECTL"),
		installer: os.Getenv("INSTALLER"), image: os.Getenv("IMG"), imageTar: os.Getenv("IMAGE_TAR"),
		upgradeImage: os.Getenv("UPGRADE_IMG"), upgradeImageTar: os.Getenv("UPGRADE_IMAGE_TAR"), agentImage: os.Getenv("AGENT_IMG"), agentSample: os.Getenv("AGENT_SAMPLE"),
		managerBinary: os.Getenv("MANAGER_BINARY"),
	}
	if e.kubectl == "" {
		e.kubectl = "kubectl"
	}
	for name, v := range map[string]string{"KUBECONFIG": e.kubeconfig, "INSTALLER": e.installer, "IMG": e.image, "IMAGE_TAR": e.imageTar,
		"UPGRADE_IMG": e.upgradeImage, "UPGRADE_IMAGE_TAR": e.upgradeImageTar, "AGENT_IMG": e.agentImage, "AGENT_SAMPLE": e.agentSample,
		"MANAGER_BINARY": e.managerBinary} {
		if v == "" {
			t.Fatalf("%s is not set: run these tests with `make test-cluster`", name)
		}
	}
	return e
}

// harness is one test's view of the cluster.
type harness struct {
	t   *testing.T
	env env
	cs  kubernetes.Interface
	ctx context.Context
	// phases records how long each step took, printed at the end.
	phases []phase
}

type phase struct {
	name string
	took time.Duration
}

func newHarness(t *testing.T) *harness {
	e := getEnv(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, env: e, cs: cs, ctx: t.Context()}
	t.Cleanup(h.printPhases)
	return h
}

// phase runs one step and records its duration.
func (h *harness) phase(name string, f func()) {
	h.t.Helper()
	start := time.Now()
	h.t.Logf("== %s", name)
	defer func() {
		h.phases = append(h.phases, phase{name, time.Since(start)})
	}()
	f()
}

func (h *harness) printPhases() {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-62s %9s\n", "phase", "took")
	var total time.Duration
	for _, p := range h.phases {
		fmt.Fprintf(&b, "%-62s %8.1fs\n", p.name, p.took.Seconds())
		total += p.took
	}
	fmt.Fprintf(&b, "%-62s %8.1fs\n", "total", total.Seconds())
	h.t.Log(b.String())
}

// kubectl runs kubectl against the cluster and returns its stdout, failing
// the test with its output on error.
func (h *harness) kubectl(args ...string) string {
	h.t.Helper()
	out, err := h.kubectlErr("", args...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) kubectlErr(stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(h.ctx, h.env.kubectl, append([]string{"--kubeconfig", h.env.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}
