package lifecycle

import (
	"github.com/google/go-cmp/cmp"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Re-applying the decision for an unchanged session, later, leaves status
// equal: transition times only move when a condition's status does. This is
// what lets the controller skip the write.
func TestApplyDecisionIsStable(t *testing.T) {
	set := Settings{IdleTimeout: time.Hour, TTL: 24 * time.Hour, Retention: time.Hour,
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
			ApplyDecision(s, Decide(now, s, set, tt.overQuota), set, now)
			first := s.Status.DeepCopy()

			// A minute later, with the quota no longer deciding (it is not
			// re-evaluated for terminated sessions), nothing changes.
			later := now.Add(time.Minute)
			ApplyDecision(s, Decide(later, s, set, false), set, later)
			if diff := cmp.Diff(first, &s.Status); diff != "" {
				t.Fatalf("status changed on re-apply (-first +then):\n%s", diff)
			}
			for _, c := range s.Status.Conditions {
				if !c.LastTransitionTime.Time.Equal(t0.Add(time.Second)) {
					t.Fatalf("condition %s: lastTransitionTime %v, want the first decision's second %v", c.Type, c.LastTransitionTime, t0.Add(time.Second))
				}
			}
		})
	}
}

// Each phase gets its three conditions with the reasons users and
// dashboards read, and the decided times.
func TestApplyDecisionConditions(t *testing.T) {
	type want struct{ ready, suspended, terminated string } // "True/Reason" or "False/Reason"
	set := Settings{IdleTimeout: 10 * time.Minute, TTL: time.Hour, Retention: time.Hour}
	tests := []struct {
		name    string
		session *v1alpha1.McpSession
		now     time.Time
		want    want
	}{
		{"new and active", session(), at(time.Minute),
			want{"True/Active", "False/NotSuspended", "False/NotTerminated"}},
		{"idle", session(phase(v1alpha1.PhaseActive)), at(11 * time.Minute),
			want{"False/Idle", "True/Idle", "False/NotTerminated"}},
		{"resumed", session(idleSuspended(11*time.Minute), activity(12*time.Minute)), at(13 * time.Minute),
			want{"True/Active", "False/Resumed", "False/NotTerminated"}},
		{"requested suspension", session(specSuspend), at(time.Minute),
			want{"False/Requested", "True/Requested", "False/NotTerminated"}},
		{"expired", session(phase(v1alpha1.PhaseActive)), at(2 * time.Hour),
			want{"False/Expired", "False/NotSuspended", "True/Expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.session
			d := Decide(tt.now, s, set, false)
			ApplyDecision(s, d, set, tt.now)
			got := want{}
			for typ, dst := range map[string]*string{
				v1alpha1.ConditionReady: &got.ready, v1alpha1.ConditionSuspended: &got.suspended, v1alpha1.ConditionTerminated: &got.terminated,
			} {
				if c := meta.FindStatusCondition(s.Status.Conditions, typ); c != nil {
					*dst = string(c.Status) + "/" + c.Reason
				}
			}
			if got != tt.want {
				t.Errorf("conditions (Ready, Suspended, Terminated) = %+v, want %+v", got, tt.want)
			}
			if s.Status.Phase != d.Phase {
				t.Errorf("status.phase = %s, want %s", s.Status.Phase, d.Phase)
			}
			if !equalTime(s.Status.ExpiresAt, d.ExpiresAt) || !equalTime(s.Status.SuspendedAt, d.SuspendedAt) ||
				!equalTime(s.Status.ResumedAt, d.ResumedAt) || !equalTime(s.Status.TerminatedAt, d.TerminatedAt) {
				t.Errorf("times in status differ from the decision: status %+v, decision %+v", s.Status, d)
			}
			if s.Status.Effective == nil || s.Status.Effective.IdleTimeout.Duration != set.IdleTimeout {
				t.Errorf("status.effective = %+v, want the settings", s.Status.Effective)
			}
		})
	}
}

func equalTime(m *metav1.Time, t time.Time) bool {
	if t.IsZero() {
		return m == nil
	}
	return m != nil && m.Time.Equal(t.Truncate(time.Second))
}

// Settings survive the trip through status.effective, quota included.
func TestSettingsStatusRoundTrip(t *testing.T) {
	for _, set := range []Settings{
		{},
		{IdleTimeout: time.Minute, Retention: time.Hour, Policy: "p", Sources: "x",
			Limits: v1alpha1.SessionLimits{MaxValueBytes: ptr.To[int64](3)}},
		{IdleTimeout: time.Minute, TTL: time.Hour, Retention: time.Hour, Policy: "team",
			Quota:   &v1alpha1.OwnerQuota{Limit: 2, Action: v1alpha1.QuotaTerminateOldest},
			Limits:  v1alpha1.SessionLimits{MaxContextBytes: ptr.To[int64](10), MaxMessages: ptr.To[int64](20), MaxValueBytes: ptr.To[int64](30)},
			Sources: "idleTimeout=policy"},
	} {
		got := SettingsFromStatus(set.Status())
		if diff := cmp.Diff(set, got); diff != "" {
			t.Errorf("SettingsFromStatus(set.Status()) (-set +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(Settings{}, SettingsFromStatus(nil)); diff != "" {
		t.Errorf("SettingsFromStatus(nil) (-want +got):\n%s", diff)
	}
	negative := &v1alpha1.EffectiveSettings{Timing: v1alpha1.Timing{TTL: &metav1.Duration{Duration: -time.Hour}}}
	if got := SettingsFromStatus(negative); got.TTL != 0 {
		t.Errorf("a negative ttl read back as %v, want 0 (no deadline)", got.TTL)
	}
}

func TestSettingsStatus(t *testing.T) {
	s := Settings{IdleTimeout: time.Minute, Retention: time.Hour, Policy: "p", Sources: "x",
		Quota:  &v1alpha1.OwnerQuota{Limit: 1},
		Limits: v1alpha1.SessionLimits{MaxValueBytes: ptr.To[int64](3)}}
	want := &v1alpha1.EffectiveSettings{
		Timing:              v1alpha1.Timing{IdleTimeout: dur(time.Minute), Retention: dur(time.Hour)},
		Limits:              v1alpha1.SessionLimits{MaxValueBytes: ptr.To[int64](3)},
		Policy:              "p",
		MaxSessionsPerOwner: &v1alpha1.OwnerQuota{Limit: 1},
		Sources:             "x",
	}
	if diff := cmp.Diff(want, s.Status()); diff != "" {
		t.Fatalf("Status (-want +got):\n%s", diff)
	}
	*s.Quota = v1alpha1.OwnerQuota{Limit: 9}
	if want.MaxSessionsPerOwner.Limit != 1 {
		t.Fatal("Status returned a pointer into the settings' quota")
	}
}
