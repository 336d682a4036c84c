//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/internal/story"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// TestStdioBridgeThroughKubeconfig is a desktop client on this machine
// reaching the operator as its docs say: it launches `manager connect
// --kubeconfig $KUBECONFIG --service-account payments/debug-assistant`,
// which port-forwards to the operator's pod behind its Service and mints
// the service account's tokens with TokenRequest, and plays the tutorial's
// story through it. Then the operator's pod is replaced under the running
// bridge, which forwards to the new pod without a restart. It runs after
// TestOperatorInCluster (file order) and installs the operator itself when
// run alone.
func TestStdioBridgeThroughKubeconfig(t *testing.T) {
	h := newHarness(t)
	h.phase("1. the operator installed and Ready, the agent's service account", func() {
		if _, err := h.cs.AppsV1().Deployments(installNamespace).Get(h.ctx, deploymentName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			h.kubectl("apply", "--server-side", "-f", h.env.installer)
		}
		h.readyOperator(nil)
		h.ensureAgentAccount()
	})

	var cs *mcp.ClientSession
	stderr := &testenv.Buffer{}
	h.phase("2. a stdio MCP client launches manager connect with the kubeconfig", func() {
		cmd := exec.Command(h.env.managerBinary, "connect", "--kubeconfig", h.env.kubeconfig, "--service-account", agentNamespace+"/"+agentAccount)
		cmd.Stderr = stderr
		ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
		defer cancel()
		var err error
		cs, err = mcp.NewClient(&mcp.Implementation{Name: "desktop-client", Version: "v0"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Fatalf("connect through manager connect: %v\nstderr:\n%s", err, stderr)
		}
		t.Cleanup(func() { _ = cs.Close() })
	})

	const session = "debug-memory-leak-stdio"
	h.phase("3. the three-day story through the bridge", func() {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(h.ctx, 3*time.Minute)
		defer cancel()
		if err := story.Play(ctx, cs, agentNamespace, session, &out); err != nil {
			t.Fatalf("the story through the bridge: %v\n%s\nstderr:\n%s", err, out.String(), stderr)
		}
		if !strings.Contains(out.String(), "What the assistant sees on resume") {
			t.Fatalf("the story's output lacks the briefing:\n%s", out.String())
		}
		h.waitSessionRow(session, map[string]string{"PHASE": "Terminated", "MESSAGES": "5", "PROJECT": "E-Commerce API",
			"OWNER": "system:serviceaccount:" + agentNamespace + ":" + agentAccount})
	})

	h.phase("4. the operator's pod replaced under the running bridge", func() {
		// The pod the bridge forwards to, from its own log: with several
		// replicas (the PostgreSQL install) any of them may be it.
		pods := forwardedPods(stderr.String())
		if len(pods) == 0 {
			t.Fatalf("the bridge's stderr names no pod it forwards to:\n%s", stderr)
		}
		old := pods[len(pods)-1]
		h.kubectl("delete", "pod", "-n", installNamespace, old, "--wait=false")
		// The forward to the old pod breaks when its container stops; the
		// bridge answers with an error until it has forwarded to another
		// Ready pod, which it names on stderr.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			out, err := call(h.ctx, cs, "get_session", map[string]any{"session_id": session, "namespace": agentNamespace})
			now := forwardedPods(stderr.String())
			moved := len(now) > len(pods) && now[len(now)-1] != old
			if err == nil && strings.Contains(out, "Terminated") && moved {
				t.Logf("the bridge moved from pod %s to pod %s", old, now[len(now)-1])
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the bridge never answered through a pod other than %s (moved: %v): %v\nstderr:\n%s", old, moved, err, stderr)
			}
			time.Sleep(time.Second)
		}
	})
}

// forwardedPods lists, in order, the pods that `manager connect` said it
// forwards to (its "forwarding to the MCP server" lines).
func forwardedPods(stderr string) []string {
	var pods []string
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "forwarding to the MCP server") {
			continue
		}
		_, rest, ok := strings.Cut(line, " pod="+installNamespace+"/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, " ")
		pods = append(pods, name)
	}
	return pods
}

// readyOperator waits for a Ready operator pod (whatever its image) that
// also satisfies cond (nil: any).
func (h *harness) readyOperator(cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	p, err := h.waitPods(installNamespace, managerSelector, 4*time.Minute, "a Ready operator pod", func(p *corev1.Pod) bool {
		return podReady(p) && p.DeletionTimestamp == nil && (cond == nil || cond(p))
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}
