//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/bridge"
	"github.com/mcp-session-operator/mcp-session-operator/internal/story"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// The stdio bridge, `manager connect`, as a desktop client runs it: the
// go-sdk's stdio client launches the real binary (mcp.CommandTransport) and
// talks to a real manager with Kubernetes auth on through it. The path
// through a port-forward needs pods, so it is tested in the one-node
// cluster (internal/e2e/cluster); here the bridge reaches the manager by
// URL.

// agent creates a namespace with a service account bound to
// mcpsession-editor there and returns the namespace and a token for the
// MCP audience.
func agent(t *testing.T, name string) (ns, token string) {
	t.Helper()
	kubectl(t, "apply", "--server-side", "-k", filepath.Join("..", "..", "config", "rbac", "aggregated"))
	ns = newNamespace(t)
	kubectl(t, "create", "serviceaccount", name, "-n", ns)
	kubectl(t, "create", "rolebinding", name+"-editor", "-n", ns, "--clusterrole=mcpsession-editor", "--serviceaccount="+ns+":"+name)
	return ns, mintToken(t, ns, name)
}

func mintToken(t *testing.T, ns, name string) string {
	t.Helper()
	return strings.TrimSpace(kubectl(t, "create", "token", name, "-n", ns, "--audience=mcp-session-operator", "--duration=1h"))
}

// authManager starts the manager with Kubernetes auth, ready once token
// can list tools.
func authManager(t *testing.T, token string) *manager {
	t.Helper()
	m := &manager{t: t, dataDir: t.TempDir(), addr: freeAddr(t), token: token, args: []string{"--auth=kubernetes"}}
	m.start()
	t.Cleanup(m.stop)
	return m
}

// viaBridge launches `manager connect args...` as a stdio MCP client
// launches a server, with env added to the environment, and connects to it
// with the go-sdk's client. It returns the session, or the connect error,
// and what the bridge wrote to stderr.
func viaBridge(t *testing.T, env []string, args ...string) (*mcp.ClientSession, *testenv.Buffer, error) {
	t.Helper()
	cmd := exec.Command(os.Getenv("MANAGER_BINARY"), append([]string{"connect"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "desktop-client", Version: "v0"}, nil)
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, stderr, err
}

// TestConnectPlaysTheStory: a desktop client, through `manager connect
// --url --token-file`, plays the tutorial's three days against the
// manager with auth on; the session ends as kubectl shows it, owned by
// the token's service account.
func TestConnectPlaysTheStory(t *testing.T) {
	ns, token := agent(t, "debug-assistant")
	m := authManager(t, token)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, stderr, err := viaBridge(t, nil, "--url", m.url(), "--token-file", tokenFile)
	if err != nil {
		t.Fatalf("connect through the bridge: %v\n%s", err, stderr)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := story.Play(ctx, cs, ns, "debug-memory-leak", &out); err != nil {
		t.Fatalf("the story through the bridge: %v\n%s\nstderr:\n%s", err, out.String(), stderr)
	}
	for _, want := range []string{"DAY 3", "What the assistant sees on resume", "In-memory cache has no eviction policy", "session terminated"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the story's output lacks %q:\n%s", want, out.String())
		}
	}
	testenv.Eventually(t, 30*time.Second, "the session Terminated with the story's counts", func() string {
		s := &v1.McpSession{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "debug-memory-leak"}, s); err != nil {
			return err.Error()
		}
		c := s.Status.Counts
		return want("phase owner messages discoveries contextItems",
			fmt.Sprint(s.Status.Phase, " ", s.Spec.Owner, " ", c.Messages, " ", c.Discoveries, " ", c.ContextItems),
			fmt.Sprint("Terminated system:serviceaccount:", ns, ":debug-assistant ", story.Messages, " ", story.Discoveries, " ", story.ContextItems))
	})

	// The token file is read for every request, as the kubelet rotates it.
	if err := os.WriteFile(tokenFile, []byte(mintToken(t, ns, "debug-assistant")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_session", Arguments: map[string]any{"session_id": "debug-memory-leak", "namespace": ns}}); err != nil {
		t.Fatalf("after the token was rotated: %v", err)
	}
	if err := os.WriteFile(tokenFile, []byte("revoked"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_session", Arguments: map[string]any{"session_id": "debug-memory-leak", "namespace": ns}})
	if code := testenv.RPCCode(err); code != bridge.CodeUnreachable || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("with a token the server refuses: %v (code %d), want a -32000 error naming the 401", err, code)
	}
}

// TestConnectMintsServiceAccountTokens: with --service-account, the bridge
// mints the tokens itself with the kubeconfig's credentials (TokenRequest,
// for the server's audience).
func TestConnectMintsServiceAccountTokens(t *testing.T) {
	ns, token := agent(t, "debug-assistant")
	m := authManager(t, token)
	cs, stderr, err := viaBridge(t, nil, "--url", m.url(), "--kubeconfig", kubeconfig, "--service-account", ns+"/debug-assistant")
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr)
	}
	mustCall(t, cs, "create_session", map[string]any{"session_id": "minted", "namespace": ns})
	if out := mustCall(t, cs, "get_session", map[string]any{"session_id": "minted", "namespace": ns}); !strings.Contains(out, "system:serviceaccount:"+ns+":debug-assistant") {
		t.Fatalf("the session is not the service account's: %s", out)
	}
}

// TestConnectErrors: each way the server is out of reach answers the
// client's initialize with an MCP error saying why, and says it on stderr,
// within seconds.
func TestConnectErrors(t *testing.T) {
	ns, token := agent(t, "debug-assistant")
	m := authManager(t, token)
	kubectl(t, "create", "serviceaccount", "nobody", "-n", ns)
	powerless := tokenKubeconfig(t, strings.TrimSpace(kubectl(t, "create", "token", "nobody", "-n", ns, "--duration=1h")))
	// A Service with nothing behind it (envtest runs no pods).
	down := newNamespace(t)
	kubectl(t, "create", "service", "clusterip", bridge.DefaultService, "-n", down, "--tcp=8090:8090")
	garbage := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(garbage, []byte("not-a-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // no ~/.kube/config there
	sa := "--service-account=" + ns + "/debug-assistant"
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no kubeconfig", []string{"KUBECONFIG=", "HOME=" + home, "KUBERNETES_SERVICE_HOST="}, []string{sa}, "kubeconfig"},
		{"Service not found", nil, []string{"--kubeconfig", kubeconfig, "--namespace", ns, sa},
			"Service " + ns + "/" + bridge.DefaultService + " not found"},
		{"forbidden", nil, []string{"--kubeconfig", powerless, sa}, "forbidden"},
		{"no pod behind the Service", nil, []string{"--kubeconfig", kubeconfig, "--namespace", down, sa}, "no Ready pod behind Service"},
		{"service account unknown", nil, []string{"--kubeconfig", kubeconfig, "--url", m.url(), "--service-account=" + ns + "/ghost"}, "service account " + ns + "/ghost not found"},
		{"endpoint down", nil, []string{"--url", "http://" + freeAddr(t) + "/mcp"}, "cannot reach the MCP server"},
		{"token refused", nil, []string{"--url", m.url(), "--token-file", garbage}, "HTTP 401"},
	} {
		start := time.Now()
		_, stderr, err := viaBridge(t, c.env, c.args...)
		t.Logf("%s: %v", c.name, err)
		if code := testenv.RPCCode(err); err == nil || code != bridge.CodeUnreachable || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: connect error %v (code %d), want a -32000 error containing %q\nstderr:\n%s", c.name, err, code, c.want, stderr)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: stderr lacks %q:\n%s", c.name, c.want, stderr)
		}
		if took := time.Since(start); took > 25*time.Second {
			t.Errorf("%s: took %s", c.name, took)
		}
	}

	// A mistake in the command line is a usage error, before any MCP.
	cmd := exec.Command(os.Getenv("MANAGER_BINARY"), "connect", "--service-account", "no-slash")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "NAMESPACE/NAME") {
		t.Errorf("a bad --service-account: %v\n%s", err, out)
	}
}
