// Package testenv is what the project's integration tests share: the
// control plane they run against (a real etcd and kube-apiserver from
// envtest, with the binaries hack/control-plane.sh builds, found through
// KUBEBUILDER_ASSETS, and the project's CRDs installed) with a client that
// reads what the apiserver holds, the one Eventually helper, and the
// bearer-token transport their MCP clients authenticate with.
//
// Without KUBEBUILDER_ASSETS a package's pure tests still run under a plain
// `go test ./...`: its TestMain starts no control plane (Missing says why)
// and each test that needs one calls Require, which skips it. `make test`
// always provides the assets.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// FeatureGatesEnv names the variable whose value, when set, is the
// apiserver's --feature-gates: for benchmarks that measure what an
// apiserver feature costs (make bench-scale documents one).
const FeatureGatesEnv = "TEST_APISERVER_FEATURE_GATES"

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	// Client is uncached: it reads what the apiserver holds.
	Client client.Client
}

// Start adds client-go's types and this project's API to scheme, starts
// etcd and the apiserver with the CRDs of config/crd/bases installed, and
// returns them with a client for scheme. The caller stops it with Stop.
func Start(scheme *runtime.Scheme) (*Env, error) {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if reason := Missing(); reason != "" {
		return nil, errors.New(reason)
	}
	crds, err := crdDir()
	if err != nil {
		return nil, err
	}
	e := &Env{Environment: &envtest.Environment{CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}}
	if gates := os.Getenv(FeatureGatesEnv); gates != "" {
		e.Environment.ControlPlane.GetAPIServer().Configure().Set("feature-gates", gates)
	}
	if e.Config, err = e.Environment.Start(); err != nil {
		// Start may fail after launching etcd and the apiserver (say, a
		// CRD the apiserver rejects): stop them rather than leak them.
		_ = e.Environment.Stop()
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: scheme}); err != nil {
		_ = e.Environment.Stop()
		return nil, fmt.Errorf("client: %w", err)
	}
	return e, nil
}

// Missing says why there is no control plane to start ("" when there is).
func Missing() string {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return "KUBEBUILDER_ASSETS is not set (make test sets it; or export KUBEBUILDER_ASSETS=$(hack/control-plane.sh))"
	}
	return ""
}

// Require skips a test that needs the control plane when there is none.
func Require(t testing.TB) {
	t.Helper()
	if reason := Missing(); reason != "" {
		t.Skip("needs a control plane: " + reason)
	}
}

// Main runs a package's tests. With the control-plane assets it starts the
// control plane (Start with scheme) and hands it to setup, which keeps what
// the tests use and may start more (a manager, a store), returning what
// stops that (or nil); after the tests everything is stopped. Without the
// assets it says so on one line and runs the tests anyway, so the pure ones
// run and the others skip through Require. It returns the exit status for
// os.Exit.
func Main(m *testing.M, scheme *runtime.Scheme, setup func(*Env) (stop func(), err error)) int {
	if reason := Missing(); reason != "" {
		fmt.Fprintln(os.Stderr, "control-plane tests skipped:", reason)
		return m.Run()
	}
	env, err := Start(scheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop control plane:", err)
		}
	}()
	stop, err := setup(env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if stop != nil {
		defer stop()
	}
	return m.Run()
}

// crdDir finds config/crd/bases from the module root above the working
// directory (go test runs in the package's directory).
func crdDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "config", "crd", "bases"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the tests from the module")
		}
		dir = parent
	}
}
