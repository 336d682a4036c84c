package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// Re-applying the decision for an unchanged session, later, leaves status
// equal: transition times only move when a condition's status does. This is
// what lets the reconciler skip the write.
func TestApplyDecisionIsStable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set := lifecycle.Settings{IdleTimeout: time.Hour, TTL: 24 * time.Hour, Retention: time.Hour,
		Quota: &v1alpha1.OwnerQuota{Limit: 1}, Policy: "p", Sources: "idleTimeout=policy"}
	tests := []struct {
		name      string
		s         *v1alpha1.McpSession
		overQuota bool
	}{
		{name: "active", s: &v1alpha1.McpSession{}},
		{name: "suspended by request", s: &v1alpha1.McpSession{Spec: v1alpha1.McpSessionSpec{Suspend: true}}},
		{name: "terminated by request", s: &v1alpha1.McpSession{Spec: v1alpha1.McpSessionSpec{Terminate: true}}},
		{name: "terminated by quota", s: &v1alpha1.McpSession{Spec: v1alpha1.McpSessionSpec{Owner: "o"}}, overQuota: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			s.CreationTimestamp = metav1.Time{Time: t0}
			s.Generation = 1
			now := t0.Add(1500 * time.Millisecond)
			applyDecision(s, lifecycle.Decide(now, s, set, tt.overQuota), set, now)
			first := s.Status.DeepCopy()

			// A minute later, with the quota no longer deciding (it is not
			// re-evaluated for terminated sessions), nothing changes.
			later := now.Add(time.Minute)
			applyDecision(s, lifecycle.Decide(later, s, set, false), set, later)
			if !equality.Semantic.DeepEqual(first, &s.Status) {
				t.Fatalf("status changed on re-apply:\nfirst %+v\nthen  %+v", first, s.Status)
			}
			for _, c := range s.Status.Conditions {
				if !c.LastTransitionTime.Time.Equal(t0.Add(time.Second)) {
					t.Fatalf("condition %s transition time %v, want the first decision's second", c.Type, c.LastTransitionTime)
				}
			}
		})
	}
}
