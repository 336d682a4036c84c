package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/randfill"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// TrimSession keeps every field the manager reads, exactly, and drops only
// the fields listed in its doc: each session is filled at random (every
// field set), trimmed, and compared with the original with just those
// fields cleared.
func TestTrimSessionKeepsWhatTheManagerReads(t *testing.T) {
	f := randfill.NewWithSeed(14).NilChance(0).NumElements(1, 3)
	for i := range 200 {
		var orig v1alpha1.McpSession
		f.Fill(&orig)
		orig.Annotations[v1alpha1.TerminationReasonAnnotation] = v1alpha1.ReasonExpired
		orig.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = `{"big":"json"}`

		want := orig.DeepCopy()
		want.ManagedFields, want.OwnerReferences, want.GenerateName, want.DeletionGracePeriodSeconds = nil, nil, "", nil
		want.Annotations = map[string]string{v1alpha1.TerminationReasonAnnotation: v1alpha1.ReasonExpired}
		got, err := TrimSession(orig.DeepCopy())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("session %d: TrimSession changed what the manager reads (-want +got):\n%s", i, diff)
		}
		again, _ := TrimSession(got)
		if diff := cmp.Diff(want, again); diff != "" {
			t.Fatalf("session %d: TrimSession is not idempotent:\n%s", i, diff)
		}
	}
	// A tombstone passes unchanged.
	tomb := "not a session"
	if got, err := TrimSession(tomb); err != nil || got != tomb {
		t.Errorf("TrimSession(%v) = %v, %v", tomb, got, err)
	}
}

// The strings most sessions repeat are shared, not held once per session.
func TestTrimSessionSharesRepeatedStrings(t *testing.T) {
	mk := func() *v1alpha1.McpSession {
		s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: string([]byte("payments")), Labels: map[string]string{string([]byte("purpose")): string([]byte("debugging"))}}}
		s.Status.Conditions = []metav1.Condition{{Type: "Ready", Message: string([]byte("The session accepts reads and writes."))}}
		return s
	}
	a, _ := TrimSession(mk())
	b, _ := TrimSession(mk())
	sa, sb := a.(*v1alpha1.McpSession), b.(*v1alpha1.McpSession)
	same := func(x, y string) bool { return x != "" && x == y && unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(sa.Namespace, sb.Namespace) || !same(sa.Status.Conditions[0].Message, sb.Status.Conditions[0].Message) ||
		!same(sa.Labels["purpose"], sb.Labels["purpose"]) {
		t.Error("two sessions of the same namespace, labels and condition hold separate copies of those strings")
	}
}

// A decoded session's conditions sit in a slice grown by doubling (three
// in room for four); the trimmed one holds exactly its conditions.
func TestTrimSessionFitsConditions(t *testing.T) {
	var s v1alpha1.McpSession
	s.Status.Conditions = append(make([]metav1.Condition, 0, 4),
		metav1.Condition{Type: "Ready"}, metav1.Condition{Type: "Suspended"}, metav1.Condition{Type: "Terminated"})
	got, _ := TrimSession(&s)
	c := got.(*v1alpha1.McpSession).Status.Conditions
	if len(c) != 3 || cap(c) != 3 || c[2].Type != "Terminated" {
		t.Errorf("conditions after the trim: len %d cap %d %v, want the three in room for three", len(c), cap(c), c)
	}
}

// Through the cache as the manager runs it (trimmed by TrimSession), a
// reconcile writes status only when something changed: sessions of every
// kind, carrying fields the cache drops, reconciled every minute of an
// idle hour on a stepped clock, are never written (their resourceVersion
// stays), and the one whose deadline then passes is written once.
func TestTrimmedCacheWritesOnlyChanges(t *testing.T) {
	testenv.Require(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ns := newNamespace(t)
	c, err := cache.New(testCfg, func() cache.Options { o := cacheFor(ns); o.Scheme = scheme; return o }())
	if err != nil {
		t.Fatal(err)
	}
	if err := indexOwner(c); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	cached, err := client.New(testCfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingClient{Client: cached, gets: map[string]int{}, writes: map[string]int{}}
	clk := clocktesting.NewFakeClock(time.Now())
	r := &SessionReconciler{Client: counting, Clock: clk, Store: &recordingStore{}, Recorder: events.NewFakeRecorder(100),
		Defaults: lifecycle.Defaults{IdleTimeout: 3 * time.Hour, TTL: 24 * time.Hour, Retention: 48 * time.Hour}, informers: c}

	policy := &v1alpha1.McpSessionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: v1alpha1.McpSessionPolicySpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
			Timing:              v1alpha1.Timing{IdleTimeout: dur(2 * time.Hour)},
			MaxSessionsPerOwner: &v1alpha1.OwnerQuota{Limit: 5}}}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	foreign := func(s *v1alpha1.McpSession) {
		s.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"sessions.mcp.dev/v1alpha1"}`, "example.com/note": "x"}
		s.Spec.Attributes = map[string]string{"ticket": "OPS-1"}
	}
	shapes := map[string][]func(*v1alpha1.McpSession){
		"plain":      {foreign},
		"policy":     {foreign, labelled("team", "a"), owner("alice")},
		"suspended":  {foreign, func(s *v1alpha1.McpSession) { s.Spec.Suspend = true }},
		"terminated": {foreign, func(s *v1alpha1.McpSession) { s.Spec.Terminate = true }},
		"own-timing": {foreign, timing(10*time.Hour, 48*time.Hour, 2*time.Hour)},
	}
	for name, mods := range shapes {
		s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		for _, m := range mods {
			m(s)
		}
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	clk.SetTime(time.Now())
	reconcileAll := func() {
		t.Helper()
		for name := range shapes {
			if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}); err != nil {
				t.Fatalf("reconcile %s: %v", name, err)
			}
		}
	}
	// The first reconciles write finalizers and status; then wait until
	// the cache holds what they wrote.
	rvs := map[string]string{}
	testenv.Eventually(t, pollTimeout, "status written and cached", func() string {
		reconcileAll()
		for name := range shapes {
			var onServer, inCache v1alpha1.McpSession
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &onServer); err != nil {
				return err.Error()
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &inCache); err != nil {
				return err.Error()
			}
			if onServer.Status.Phase == "" || onServer.ResourceVersion != inCache.ResourceVersion {
				return fmt.Sprintf("%s: phase %q, resourceVersion %s on the server, %s cached", name, onServer.Status.Phase, onServer.ResourceVersion, inCache.ResourceVersion)
			}
			rvs[name] = onServer.ResourceVersion
		}
		return ""
	})
	before := map[string]int{}
	for name := range shapes {
		_, before[name] = counting.snapshot(name)
	}
	for range 60 {
		clk.Step(time.Minute)
		reconcileAll()
	}
	for name := range shapes {
		if _, w := counting.snapshot(name); w != before[name] {
			t.Errorf("%s: %d writes during an idle hour, want none", name, w-before[name])
		}
		var now v1alpha1.McpSession
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &now); err != nil {
			t.Fatal(err)
		}
		if now.ResourceVersion != rvs[name] {
			t.Errorf("%s was written during an idle hour: resourceVersion %s -> %s\n%s", name, rvs[name], now.ResourceVersion, statusJSON(&now))
		}
		if now.Annotations["kubectl.kubernetes.io/last-applied-configuration"] == "" || now.Spec.Attributes["ticket"] != "OPS-1" {
			t.Errorf("%s lost fields the cache does not keep: annotations %v", name, now.Annotations)
		}
	}
	// Past the policy's idle deadline (2h): "policy" is suspended, with one
	// write; the others stay as they were.
	clk.Step(time.Hour + time.Minute)
	_, w0 := counting.snapshot("policy")
	reconcileAll()
	if _, w := counting.snapshot("policy"); w != w0+1 {
		t.Errorf("the deadline that passed cost %d writes, want 1", w-w0)
	}
	var policySession v1alpha1.McpSession
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "policy"}, &policySession); err != nil {
		t.Fatal(err)
	}
	if policySession.Status.Phase != v1alpha1.PhaseSuspended {
		t.Errorf("status.phase of the session past its deadline = %s, want Suspended", policySession.Status.Phase)
	}
	for _, name := range []string{"plain", "suspended", "terminated", "own-timing"} {
		var now v1alpha1.McpSession
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &now); err != nil {
			t.Fatal(err)
		}
		if now.ResourceVersion != rvs[name] {
			t.Errorf("%s was written although nothing about it changed", name)
		}
	}
}
