//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// TestScaleTimelineReadsTheMetrics checks, in minutes rather than the
// half hour of make bench-scale, that the scale benchmark's timeline and
// reconcile count find the metrics they read in what the real apiserver
// and manager expose: a renamed metric or label, or text the parser
// refuses, would otherwise only show as zeros in a long run.
func TestScaleTimelineReadsTheMetrics(t *testing.T) {
	metricsAddr := freeAddr(t)
	m := &manager{t: t, dataDir: t.TempDir(), addr: freeAddr(t), args: []string{"--metrics-bind-address=" + metricsAddr}}
	m.start()
	t.Cleanup(m.stop)
	ns := newNamespace(t)
	s := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "timeline"}, Spec: v1.McpSessionSpec{Project: "scale"}}
	if err := k8sClient.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	tl, err := newTimeline(testEnv.Config, testenv.NewObserver(), metricsAddr, func() int { return m.cmd.Process.Pid })
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the timeline's figures", func() string {
		r := tl.read(context.Background())
		switch {
		case r.patches < 1:
			return "no status PATCH of mcpsessions in apiserver_request_total"
		case r.managerPatches < 1:
			return "no PATCH in the manager's rest_client_requests_total"
		case r.cpu["manager"] <= 0 || r.cpu["kube-apiserver"] <= 0:
			return fmt.Sprintf("no CPU time for the manager or the apiserver: %v", r.cpu)
		case reconciles(metricsAddr) < 1:
			return "no mcpsession reconcile in controller_runtime_reconcile_total"
		}
		return ""
	})
	r := tl.read(context.Background())
	t.Logf("apiserver status patches %.0f, watches %.0f, manager patches %.0f, queue %.0f, CPU %v", r.patches, r.watches, r.managerPatches, r.queue, r.cpu)
}
