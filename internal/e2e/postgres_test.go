//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// replicas starts n manager processes on one PostgreSQL database (a fresh
// one), leader-elected as the installer runs them (with their Lease in ns,
// so tests do not share one), each with its own MCP endpoint: replicas of
// one install.
func replicas(t *testing.T, ns string, n int) []*manager {
	t.Helper()
	url := pgtest.NewDatabase(t)
	var out []*manager
	for range n {
		m := &manager{t: t, dataDir: t.TempDir(), store: url, addr: freeAddr(t),
			args: []string{"--leader-elect", "--leader-election-namespace=" + ns, "--mcp-status-sync-interval=500ms"}}
		m.start()
		t.Cleanup(m.stop)
		out = append(out, m)
	}
	return out
}

// (6) Two managers on one PostgreSQL: what is written through one is read
// through the other, and both export the same document.
func TestTwoManagersShareOneStore(t *testing.T) {
	pgtest.Require(t)
	ns := newNamespace(t)
	ms := replicas(t, ns, 2)
	a, b := ms[0].client(t), ms[1].client(t)
	id := func(extra map[string]any) map[string]any {
		out := map[string]any{"session_id": "shared", "namespace": ns}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	mustCall(t, a, "create_session", id(map[string]any{"project": "E-Commerce API"}))
	mustCall(t, a, "add_context", id(map[string]any{"key": "deployment_diff", "value": map[string]any{"version": "v2.4.0"}}))
	mustCall(t, a, "add_message", id(map[string]any{"role": "user", "content": "API instances grow 100MB/hour"}))
	mustCall(t, b, "add_message", id(map[string]any{"role": "assistant", "content": "Let's look at the cache"}))
	mustCall(t, b, "add_discovery", id(map[string]any{"title": "In-memory cache has no eviction policy"}))

	for i, cs := range []*mcp.ClientSession{a, b} {
		if got := history(t, cs, ns, "shared"); strings.Join(got, "|") != "API instances grow 100MB/hour|Let's look at the cache" {
			t.Errorf("history through manager %d: %q", i, got)
		}
		if text := mustCall(t, cs, "get_context", id(map[string]any{"key": "deployment_diff"})); !strings.Contains(text, "v2.4.0") {
			t.Errorf("context through manager %d: %s", i, text)
		}
		if text := mustCall(t, cs, "search", id(map[string]any{"query": "evicting caches"})); !strings.Contains(text, "eviction policy") {
			t.Errorf("search through manager %d: %s", i, text)
		}
	}
	if ea, eb := exportDoc(t, a, ns, "shared"), exportDoc(t, b, ns, "shared"); ea != eb {
		t.Errorf("the managers export different documents:\n%s\n%s", ea, eb)
	}
}

// exportDoc is export_session's document, as JSON.
func exportDoc(t *testing.T, cs *mcp.ClientSession, ns, name string) string {
	t.Helper()
	var out struct {
		Document json.RawMessage `json:"document"`
	}
	text := mustCall(t, cs, "export_session", map[string]any{"session_id": name, "namespace": ns})
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatalf("export_session: %v\n%s", err, text)
	}
	return string(out.Document)
}

// (6) SIGKILL of either manager while clients write through both: every
// write either manager acknowledged is stored, in order, and the other
// manager kept serving meanwhile.
func TestKillEitherManagerLosesNothing(t *testing.T) {
	pgtest.Require(t)
	ns := newNamespace(t)
	ms := replicas(t, ns, 2)
	for victim := range ms {
		session := fmt.Sprintf("kill-%d", victim)
		mustCall(t, ms[0].client(t), "create_session", map[string]any{"session_id": session, "namespace": ns})
		var (
			mu    sync.Mutex
			acked []string
			wg    sync.WaitGroup
		)
		ctx, cancel := context.WithCancel(context.Background())
		for w, m := range ms {
			wg.Go(func() {
				// Writes through one manager, reconnecting while it is down.
				for i := 0; ctx.Err() == nil; i++ {
					c, err := m.connect(ctx)
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					for ; ctx.Err() == nil; i++ {
						content := fmt.Sprintf("through %d, write %d", w, i)
						_, isErr, err := call(ctx, c, "add_message", map[string]any{"session_id": session, "namespace": ns, "role": "user", "content": content})
						if err != nil || isErr {
							break // not acknowledged
						}
						mu.Lock()
						acked = append(acked, content)
						mu.Unlock()
					}
					c.Close()
				}
			})
		}
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
		testenv.Eventually(t, 30*time.Second, "writes through both managers", func() string {
			if count() < 40 {
				return fmt.Sprintf("%d acknowledged", count())
			}
			return ""
		})
		ms[victim].kill()
		before := count()
		testenv.Eventually(t, 30*time.Second, "writes through the surviving manager", func() string {
			if count() < before+40 {
				return fmt.Sprintf("%d acknowledged since the kill", count()-before)
			}
			return ""
		})
		ms[victim].start()
		cancel()
		wg.Wait()

		// Every acknowledged write is there, each once, through either manager.
		for _, m := range ms {
			stored := history(t, m.client(t), ns, session)
			pos := map[string]int{}
			for i, c := range stored {
				if _, dup := pos[c]; dup {
					t.Fatalf("%q stored twice", c)
				}
				pos[c] = i
			}
			for _, a := range acked {
				if _, ok := pos[a]; !ok {
					t.Fatalf("acknowledged write %q is missing after the SIGKILL of manager %d (%d acknowledged, %d stored)", a, victim, len(acked), len(stored))
				}
			}
		}
		t.Logf("SIGKILL of manager %d: %d writes acknowledged through both, all stored", victim, len(acked))
	}
}

// (6) The controllers run on one manager at a time: when the leader is
// SIGKILLed the other takes the Lease over, and the deadlines of sessions
// (idle suspension, expiry) are still enforced.
func TestLeadershipMovesAndDeadlinesHold(t *testing.T) {
	pgtest.Require(t)
	ns := newNamespace(t)
	ms := replicas(t, ns, 1) // the first replica leads alone
	holder := leaseHolder(t, ns, "")
	ms = append(ms, &manager{t: t, dataDir: t.TempDir(), store: ms[0].store, addr: freeAddr(t), args: ms[0].args})
	ms[1].start()
	t.Cleanup(ms[1].stop)

	policy := &v1.McpSessionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "short", Namespace: ns},
		Spec: v1.McpSessionPolicySpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"purpose": "failover"}},
			Timing: v1.Timing{
				IdleTimeout: &metav1.Duration{Duration: 3 * time.Second},
				TTL:         &metav1.Duration{Duration: time.Hour},
				Retention:   &metav1.Duration{Duration: time.Hour},
			},
		},
	}
	if err := k8sClient.Create(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	ms[0].kill() // the leader, without releasing the Lease
	newHolder := leaseHolder(t, ns, holder)
	t.Logf("leadership moved from %s to %s", holder, newHolder)

	// A session created through the survivor, then left idle: the new
	// leader suspends it on time.
	cs := ms[1].client(t)
	mustCall(t, cs, "create_session", map[string]any{"session_id": "after-failover", "namespace": ns, "labels": map[string]any{"purpose": "failover"}})
	mustCall(t, cs, "add_message", map[string]any{"session_id": "after-failover", "namespace": ns, "role": "user", "content": "then silence"})
	testenv.Eventually(t, 30*time.Second, "the new leader suspends the idle session", func() string {
		var s v1.McpSession
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "after-failover"}, &s); err != nil {
			return err.Error()
		}
		return want("status.phase", string(s.Status.Phase), string(v1.PhaseSuspended))
	})
}

// leaseHolder waits until the managers' Lease in ns has a holder other
// than not, and returns it.
func leaseHolder(t *testing.T, ns, not string) string {
	t.Helper()
	var holder string
	testenv.Eventually(t, 60*time.Second, "a leader other than "+not, func() string {
		var l coordinationv1.Lease
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: leaseName}, &l); err != nil {
			return err.Error()
		}
		holder = ptr.Deref(l.Spec.HolderIdentity, "")
		if holder == "" || holder == not {
			return fmt.Sprintf("holder %q", holder)
		}
		return ""
	})
	return holder
}

// A Pebble install whose Deployment asks for two replicas: the manager
// refuses to start and says why and what to do.
func TestPebbleRefusesASecondReplica(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	labels := map[string]string{"app": "manager"}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "mcp-session-operator:test"}}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec},
	}}
	if err := k8sClient.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "operator-1", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec}}}
	if err := k8sClient.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "operator-1-a", Namespace: ns, Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: podSpec}
	if err := k8sClient.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	m := &manager{t: t, dataDir: t.TempDir(), addr: freeAddr(t)}
	out, err := m.run("POD_NAME="+pod.Name, "POD_NAMESPACE="+ns)
	if err == nil {
		t.Fatalf("the manager started as a second replica of a Pebble install:\n%s", out)
	}
	for _, w := range []string{"Deployment operator asks for 2 replicas", "pebble:" + m.dataDir, "PostgreSQL"} {
		if !strings.Contains(out, w) {
			t.Errorf("the manager's refusal lacks %q:\n%s", w, out)
		}
	}
}
