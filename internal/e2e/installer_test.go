//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The installer's names (config/default's namePrefix and namespace).
const (
	installNamespace = "mcp-session-operator-system"
	installAccount   = "mcp-session-operator-controller-manager"
	leaseName        = "mcp-session-operator.sessions.mcp.dev"
)

// (5) dist/install.yaml, applied as a user applies it, is accepted by the
// apiserver, and its RBAC is all the operator needs: the manager binary runs
// with nothing but the installer's service account token, with Kubernetes
// auth and leader election, and serves an agent bound to the installer's
// mcpsession-editor role. The other tests run the manager as cluster-admin,
// so a missing rule would only show here.
func TestInstallerRBACRunsTheOperator(t *testing.T) {
	installer := os.Getenv("INSTALLER")
	if installer == "" {
		t.Fatal("INSTALLER is not set: run `make test-e2e` (it builds dist/install.yaml)")
	}
	kubectl(t, "apply", "--server-side", "--force-conflicts", "-f", installer)
	sa := strings.TrimSpace(kubectl(t, "get", "deployment", installAccount, "-n", installNamespace, "-o", "jsonpath={.spec.template.spec.serviceAccountName}"))
	if sa != installAccount {
		t.Fatalf("the installer's Deployment runs as %q, want %q", sa, installAccount)
	}

	agentNS := newNamespace(t)
	kubectl(t, "create", "serviceaccount", "agent", "-n", agentNS)
	kubectl(t, "create", "rolebinding", "agent-editor", "-n", agentNS, "--clusterrole=mcpsession-editor", "--serviceaccount="+agentNS+":agent")
	otherNS := newNamespace(t)

	m := &manager{
		t: t, dataDir: t.TempDir(), addr: freeAddr(t),
		kubeconfig: tokenKubeconfig(t, strings.TrimSpace(kubectl(t, "create", "token", installAccount, "-n", installNamespace, "--duration=1h"))),
		token:      strings.TrimSpace(kubectl(t, "create", "token", "agent", "-n", agentNS, "--audience=mcp-session-operator", "--duration=1h")),
		args:       []string{"--auth=kubernetes", "--leader-elect", "--leader-election-namespace=" + installNamespace, "--mcp-status-sync-interval=500ms"},
	}
	m.start()
	t.Cleanup(m.stop)
	cs := m.client(t)

	// The agent's own namespace is the default; the installer's RBAC lets
	// the manager create the object, review the agent's token and access.
	mustCall(t, cs, "create_session", map[string]any{"session_id": "installed", "project": "installer"})
	mustCall(t, cs, "add_message", map[string]any{"session_id": "installed", "role": "user", "content": "hello"})
	mustCall(t, cs, "add_discovery", map[string]any{"session_id": "installed", "title": "RBAC", "description": "the installer's rules are enough"})
	mustCall(t, cs, "suspend_session", map[string]any{"session_id": "installed"})
	get := func(path string) string {
		return strings.TrimSpace(kubectl(t, "get", "mcpsession", "installed", "-n", agentNS, "-o", "jsonpath="+path))
	}
	testenv.Eventually(t, 20*time.Second, "the controller suspends it", func() string { return want("status.phase", get("{.status.phase}"), "Suspended") })
	mustCall(t, cs, "resume_session", map[string]any{"session_id": "installed"})
	testenv.Eventually(t, 20*time.Second, "Active with the counts synced", func() string {
		return want("status.phase, counts.messages, counts.discoveries", get("{.status.phase} {.status.counts.messages} {.status.counts.discoveries}"), "Active 1 1")
	})
	events := kubectl(t, "get", "events.events.k8s.io", "-n", agentNS, "-o", "jsonpath={.items[*].reason}")
	if !strings.Contains(events, "Suspended") {
		t.Errorf("events in %s: %q, want the controller's Suspended event", agentNS, events)
	}
	if holder := strings.TrimSpace(kubectl(t, "get", "lease", leaseName, "-n", installNamespace, "-o", "jsonpath={.spec.holderIdentity}")); holder == "" {
		t.Errorf("lease %s/%s has no holder: leader election did not take it", installNamespace, leaseName)
	}

	// Another namespace: the agent is refused, through the manager's
	// SubjectAccessReview, with no data.
	text, isErr, err := call(t.Context(), cs, "list_sessions", map[string]any{"namespace": otherNS})
	if err != nil || !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("list_sessions in %s: err=%v isError=%v text=%q, want a forbidden tool error", otherNS, err, isErr, text)
	}

	m.stop()
	log, _ := os.ReadFile(m.log.Name())
	var refused []string
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "forbidden") {
			refused = append(refused, line)
		}
	}
	if len(refused) > 0 {
		t.Errorf("the manager was refused %d time(s) with the installer's RBAC; first:\n%s", len(refused), strings.Join(refused[:min(3, len(refused))], "\n"))
	}
}

// tokenKubeconfig writes a kubeconfig for the test apiserver that
// authenticates with token alone.
func tokenKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: testEnv.Config.Host, CertificateAuthorityData: testEnv.Config.CAData}
	cfg.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "token"}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
