package v1alpha1_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// rawSession builds an McpSession as unstructured so tests can send values the
// typed client could never encode (negative or malformed durations).
func rawSession(ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1.GroupVersion.String(),
		"kind":       "McpSession",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}}
	return u
}

func rawPolicy(ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1.GroupVersion.String(),
		"kind":       "McpSessionPolicy",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}}
}

// expectInvalid asserts the apiserver refused the request as Invalid with a
// message containing want, so users see a readable reason.
func expectInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected the apiserver to reject the object with %q, it was accepted", want)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("expected an Invalid error containing %q, got %v", want, err)
	}
	t.Logf("rejected: %v", err)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err.Error(), want)
	}
}

func TestValidSessionAndPolicyAccepted(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	s := &v1.McpSession{
		ObjectMeta: metav1.ObjectMeta{Name: "debug-memory-leak", Namespace: ns, Labels: map[string]string{"purpose": "debugging"}},
		Spec: v1.McpSessionSpec{
			Project:    "E-Commerce API",
			Owner:      "alice",
			Attributes: map[string]string{"issue": "memory leak"},
			Timing:     v1.Timing{IdleTimeout: dur(5 * time.Second), TTL: dur(time.Hour), Retention: dur(24 * time.Hour)},
			Limits:     &v1.SessionLimits{MaxMessages: ptr(int64(1000)), MaxContextBytes: ptr(int64(1 << 20)), MaxValueBytes: ptr(int64(4096))},
		},
	}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatalf("valid session rejected: %v", err)
	}
	var got v1.McpSession
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(s), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.IdleTimeout.Duration != 5*time.Second {
		t.Fatalf("idleTimeout round trip: got %v", got.Spec.IdleTimeout)
	}

	p := &v1.McpSessionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "debugging", Namespace: ns},
		Spec: v1.McpSessionPolicySpec{
			Selector:            metav1.LabelSelector{MatchLabels: map[string]string{"purpose": "debugging"}},
			Priority:            10,
			Timing:              v1.Timing{IdleTimeout: dur(time.Hour), TTL: dur(336 * time.Hour)},
			MaxSessionsPerOwner: &v1.OwnerQuota{Limit: 5},
		},
	}
	if err := k8sClient.Create(ctx, p); err != nil {
		t.Fatalf("valid policy rejected: %v", err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	if p.Spec.MaxSessionsPerOwner.Action != v1.QuotaReject {
		t.Fatalf("quota action default: got %q, want Reject", p.Spec.MaxSessionsPerOwner.Action)
	}
}

func TestSessionCreateValidation(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	cases := []struct {
		name string
		spec map[string]any
		want string
	}{
		{"negative idleTimeout", map[string]any{"idleTimeout": "-5m"}, "idleTimeout must be a positive duration"},
		{"malformed ttl", map[string]any{"ttl": "five minutes"}, "spec.ttl in body should match"},
		{"zero retention", map[string]any{"retention": "0s"}, "retention must be a positive duration"},
		{"ttl shorter than idleTimeout", map[string]any{"idleTimeout": "2h", "ttl": "1h"}, "ttl must be greater than or equal to idleTimeout"},
		{"zero maxMessages", map[string]any{"limits": map[string]any{"maxMessages": 0}}, "spec.limits.maxMessages"},
		{"negative maxValueBytes", map[string]any{"limits": map[string]any{"maxValueBytes": -1}}, "spec.limits.maxValueBytes"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8sClient.Create(ctx, rawSession(ns, "bad-"+string(rune('a'+i)), tc.spec))
			expectInvalid(t, err, tc.want)
		})
	}
}

func TestShortDurationsStayValid(t *testing.T) {
	ns := newNamespace(t)
	err := k8sClient.Create(context.Background(), rawSession(ns, "demo", map[string]any{
		"idleTimeout": "5s", "ttl": "1m30s", "retention": "10s",
	}))
	if err != nil {
		t.Fatalf("short durations for demos must be accepted: %v", err)
	}
}

func TestPolicyValidation(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	cases := []struct {
		name string
		spec map[string]any
		want string
	}{
		{"bad quota action", map[string]any{"maxSessionsPerOwner": map[string]any{"limit": 3, "action": "DeleteEverything"}}, `Unsupported value: "DeleteEverything"`},
		{"zero quota limit", map[string]any{"maxSessionsPerOwner": map[string]any{"limit": 0}}, "spec.maxSessionsPerOwner.limit"},
		{"negative ttl", map[string]any{"ttl": "-1h"}, "spec.ttl"},
		{"ttl shorter than idleTimeout", map[string]any{"idleTimeout": "1h", "ttl": "30m"}, "ttl must be greater than or equal to idleTimeout"},
		{"priority out of range", map[string]any{"priority": 5000}, "spec.priority"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8sClient.Create(ctx, rawPolicy(ns, "bad-"+string(rune('a'+i)), tc.spec))
			expectInvalid(t, err, tc.want)
		})
	}
}

func TestBadPhaseEnumRejected(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	s := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: "phase", Namespace: ns}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Status.Phase = "Hibernating"
	err := k8sClient.Status().Update(ctx, s)
	expectInvalid(t, err, `Unsupported value: "Hibernating"`)
}

func TestTerminateCannotBeUnset(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	s := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: ns}, Spec: v1.McpSessionSpec{Terminate: true}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Spec.Terminate = false
	expectInvalid(t, k8sClient.Update(ctx, s), "terminate cannot be unset once true")

	// Setting it on a live session is allowed (one way only).
	live := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: "live", Namespace: ns}}
	if err := k8sClient.Create(ctx, live); err != nil {
		t.Fatal(err)
	}
	live.Spec.Terminate = true
	if err := k8sClient.Update(ctx, live); err != nil {
		t.Fatalf("setting terminate must be allowed: %v", err)
	}
}

func TestOwnerImmutableOnceSet(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	s := &v1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: "owned", Namespace: ns}}
	if err := k8sClient.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Spec.Owner = "alice"
	if err := k8sClient.Update(ctx, s); err != nil {
		t.Fatalf("setting an unset owner must be allowed: %v", err)
	}
	s.Spec.Owner = "mallory"
	expectInvalid(t, k8sClient.Update(ctx, s), "owner is immutable once set")
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
		t.Fatal(err)
	}
	s.Spec.Owner = ""
	expectInvalid(t, k8sClient.Update(ctx, s), "owner is immutable once set")
}

func ptr[T any](v T) *T { return &v }
