package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

func quotaPolicy(limit int32, action v1alpha1.QuotaAction) func(*v1alpha1.McpSessionPolicySpec) {
	return func(p *v1alpha1.McpSessionPolicySpec) {
		p.IdleTimeout = dur(24 * time.Hour)
		p.TTL = dur(48 * time.Hour)
		p.MaxSessionsPerOwner = &v1alpha1.OwnerQuota{Limit: limit, Action: action}
	}
}

// Reject: the owner's newest sessions over the limit are terminated
// (QuotaExceeded); other owners and unowned sessions are not counted.
func TestQuotaReject(t *testing.T) {
	h := start(t, lifecycle.Defaults{})
	h.createPolicy("two-each", quotaPolicy(2, v1alpha1.QuotaReject))
	for _, n := range []string{"alice-1", "alice-2"} {
		h.create(n, owner("alice"))
		h.waitPhase(n, v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	}
	h.create("bob-1", owner("bob"))
	h.create("nobody-1")
	h.create("nobody-2")
	h.create("alice-3", owner("alice"))

	s := h.waitPhase("alice-3", v1alpha1.PhaseTerminated, v1alpha1.ReasonQuotaExceeded)
	mustContain(t, condition(s, v1alpha1.ConditionTerminated).Message, `Owner "alice" went over the limit of 2`)
	if s.Annotations[v1alpha1.TerminationReasonAnnotation] != v1alpha1.ReasonQuotaExceeded {
		t.Fatalf("annotation %v", s.Annotations)
	}
	h.waitEvents("alice-3", lifecycle.EventQuotaExceeded)
	assertWarning(t, h, "alice-3", lifecycle.EventQuotaExceeded)
	for _, n := range []string{"alice-1", "alice-2", "bob-1", "nobody-1", "nobody-2"} {
		h.waitPhase(n, v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	}

	// The terminated session no longer counts, but the owner is at the
	// limit: the next one is rejected too.
	h.create("alice-4", owner("alice"))
	h.waitPhase("alice-4", v1alpha1.PhaseTerminated, v1alpha1.ReasonQuotaExceeded)

	// Ending one of the live sessions frees a slot for a new one.
	h.setSpec("alice-1", `{"terminate":true}`)
	h.waitPhase("alice-1", v1alpha1.PhaseTerminated, v1alpha1.ReasonRequested)
	h.create("alice-5", owner("alice"))
	h.waitPhase("alice-5", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	h.waitPhase("alice-2", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
}

// TerminateOldest: the least recently active sessions go, so the owner is
// back at the limit and the new session lives.
func TestQuotaTerminateOldest(t *testing.T) {
	h := start(t, lifecycle.Defaults{})
	h.createPolicy("keep-two", quotaPolicy(2, v1alpha1.QuotaTerminateOldest))
	h.create("o-1", owner("carol"))
	h.create("o-2", owner("carol"))
	h.waitPhase("o-1", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	h.waitPhase("o-2", v1alpha1.PhaseActive, v1alpha1.ReasonActive)

	// o-1 is used ten (fake) minutes later; o-2 never is.
	h.step(10 * time.Minute)
	h.recordActivity("o-1", h.clock.Now())
	h.create("o-3", owner("carol"))

	h.waitPhase("o-2", v1alpha1.PhaseTerminated, v1alpha1.ReasonQuotaExceeded)
	h.waitEvents("o-2", lifecycle.EventQuotaExceeded)
	h.waitPhase("o-1", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	h.waitPhase("o-3", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
}

// A session's quota is counted only among sessions the same policy governs.
func TestQuotaCountsOnlyTheWinningPolicy(t *testing.T) {
	h := start(t, lifecycle.Defaults{})
	h.createPolicy("quota", func(p *v1alpha1.McpSessionPolicySpec) {
		quotaPolicy(1, v1alpha1.QuotaReject)(p)
		p.Selector = metav1.LabelSelector{MatchLabels: map[string]string{"tier": "free"}}
	})
	h.create("free-1", owner("dan"), labelled("tier", "free"))
	h.create("paid-1", owner("dan"), labelled("tier", "paid"))
	h.create("paid-2", owner("dan"), labelled("tier", "paid"))
	for _, n := range []string{"free-1", "paid-1", "paid-2"} {
		h.waitPhase(n, v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	}
	// Relabelling a paid session into the quota puts dan over it; the
	// relabelled session is the newer one, so it is rejected.
	h.mergePatch("paid-2", `{"metadata":{"labels":{"tier":"free"}}}`, false)
	h.waitPhase("paid-2", v1alpha1.PhaseTerminated, v1alpha1.ReasonQuotaExceeded)
	h.waitPhase("free-1", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
	h.waitPhase("paid-1", v1alpha1.PhaseActive, v1alpha1.ReasonActive)
}

func assertWarning(t *testing.T, h *harness, name, reason string) {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := k8s.List(h.ctx, list, client.InNamespace(h.ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			if e.Type != corev1.EventTypeWarning {
				t.Fatalf("event %s is %s, want Warning", reason, e.Type)
			}
			return
		}
	}
	t.Fatalf("no %s event on %s", reason, name)
}

// Namespace-wide session counts are Kubernetes' job: a ResourceQuota on
// count/mcpsessions.sessions.mcp.dev refuses the create past the limit.
//
// Found against the real apiserver: the ResourceQuota admission plugin is on
// by default, counts custom resources with its generic object-count
// evaluator, and charges each admitted create to status.used itself; but it
// only enforces resources listed in status.hard, which the quota controller
// (kube-controller-manager, not running under envtest) fills in. In a real
// cluster that happens within seconds of creating the quota; here the test
// writes status.hard/status.used once through the status subresource.
func TestResourceQuotaLimitsSessionCount(t *testing.T) {
	ns := newNamespace(t)
	ctx := t.Context()
	const res = corev1.ResourceName("count/mcpsessions.sessions.mcp.dev")
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "sessions", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{res: resource.MustParse("2")}},
	}
	if err := k8s.Create(ctx, q); err != nil {
		t.Fatal(err)
	}
	mk := func(name string) error {
		return k8s.Create(ctx, &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	setHard := func(n string) {
		t.Helper()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(q), q); err != nil {
			t.Fatal(err)
		}
		q.Status = corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{res: resource.MustParse(n)},
			Used: corev1.ResourceList{res: resource.MustParse("0")},
		}
		if err := k8s.Status().Update(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The admission plugin reads quotas from its own informer. First prove
	// it sees this one: with hard 0 a create is refused (a create admitted
	// before that was not charged, and is removed).
	setHard("0")
	testenv.Eventually(t, pollTimeout, "the quota admission plugin to see the quota", func() string {
		err := mk("probe")
		if err == nil {
			_ = k8s.Delete(ctx, &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}})
			return "a create was admitted"
		}
		if !apierrors.IsForbidden(err) {
			return err.Error()
		}
		return ""
	})
	// Then allow two; until the plugin sees the new value it refuses, so
	// retrying the first create is safe.
	setHard("2")
	testenv.Eventually(t, pollTimeout, "the first create within the raised quota", func() string {
		if err := mk("s1"); err != nil {
			return err.Error()
		}
		return ""
	})
	if err := mk("s2"); err != nil {
		t.Fatalf("create s2 within quota: %v", err)
	}
	err := mk("s3")
	if !apierrors.IsForbidden(err) {
		t.Fatalf("third create: got %v, want Forbidden (exceeded quota)", err)
	}
	mustContain(t, err.Error(), "exceeded quota")
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(q), q); err != nil {
		t.Fatal(err)
	}
	if used := q.Status.Used[res]; used.Value() != 2 {
		t.Fatalf("quota used %s, want 2", used.String())
	}
}
