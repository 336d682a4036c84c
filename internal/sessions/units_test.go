package sessions

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

func TestSyncSchedule(t *testing.T) {
	for _, c := range []struct {
		interval, idle, want time.Duration
	}{
		{5 * time.Second, 30 * time.Minute, 5 * time.Second},
		{5 * time.Second, 10 * time.Second, time.Second},
		{5 * time.Second, 0, 5 * time.Second},
		{5 * time.Second, 500 * time.Millisecond, 100 * time.Millisecond},
		{30 * time.Second, 2 * time.Minute, 12 * time.Second},
	} {
		if got := syncSpacing(c.interval, c.idle); got != c.want {
			t.Errorf("syncSpacing(%v, %v) = %v, want %v", c.interval, c.idle, got, c.want)
		}
	}
	now := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		e         syncEntry
		due, stal bool
	}{
		{syncEntry{dirty: true}, true, false}, // never written
		{syncEntry{dirty: true, spacing: 5 * time.Second, lastWrite: now.Add(-time.Second)}, false, false},    // too soon
		{syncEntry{dirty: true, spacing: 5 * time.Second, lastWrite: now.Add(-5 * time.Second)}, true, false}, // spacing passed
		{syncEntry{dirty: false, spacing: 5 * time.Second, lastWrite: now.Add(-time.Hour)}, false, true},      // quiet: forget
		{syncEntry{dirty: false, spacing: 5 * time.Second, lastWrite: now.Add(-time.Second)}, false, false},
	} {
		if got := due(c.e, now); got != c.due {
			t.Errorf("due(%+v) = %v", c.e, got)
		}
		if got := stale(c.e, now); got != c.stal {
			t.Errorf("stale(%+v) = %v", c.e, got)
		}
	}
	if p := tickPeriod(5 * time.Second); p != 250*time.Millisecond {
		t.Errorf("tickPeriod(5s) = %v", p)
	}
	if p := tickPeriod(time.Millisecond); p != 20*time.Millisecond {
		t.Errorf("tickPeriod(1ms) = %v", p)
	}
}

// TestObserve: the phase a request acts on is the lifecycle's answer now,
// even when status lags behind.
func TestObserve(t *testing.T) {
	created := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	obj := func(mut func(*v1alpha1.McpSession)) *v1alpha1.McpSession {
		s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "u", CreationTimestamp: metav1.NewTime(created)}}
		if mut != nil {
			mut(s)
		}
		return s
	}
	def := lifecycle.DefaultDefaults()
	for _, c := range []struct {
		name      string
		now       time.Time
		s         *v1alpha1.McpSession
		activity  time.Time
		phase     v1alpha1.Phase
		confirmed bool
	}{
		{"new, no status yet", created.Add(time.Second), obj(nil), time.Time{}, v1alpha1.PhaseActive, false},
		{"active and confirmed", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) { s.Status.Phase = v1alpha1.PhaseActive }), time.Time{}, v1alpha1.PhaseActive, true},
		{"kubectl suspend, status stale", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) {
			s.Spec.Suspend = true
			s.Status.Phase = v1alpha1.PhaseActive
		}), time.Time{}, v1alpha1.PhaseSuspended, false},
		{"idle past idleTimeout", created.Add(31 * time.Minute), obj(nil), time.Time{}, v1alpha1.PhaseSuspended, false},
		{"idle in status, but recent activity here", created.Add(31 * time.Minute), obj(nil), created.Add(30 * time.Minute), v1alpha1.PhaseActive, false},
		{"terminate requested", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) { s.Spec.Terminate = true }), time.Time{}, v1alpha1.PhaseTerminated, false},
		{"terminated is sticky", created.Add(time.Minute), obj(func(s *v1alpha1.McpSession) {
			s.Status.Phase = v1alpha1.PhaseTerminated
			s.Status.TerminatedAt = &metav1.Time{Time: created}
		}), created.Add(time.Minute), v1alpha1.PhaseTerminated, true},
		{"expired by ttl", created.Add(31 * 24 * time.Hour), obj(nil), time.Time{}, v1alpha1.PhaseTerminated, false},
	} {
		got := observe(c.now, c.s, nil, def, c.activity)
		if got.Phase != c.phase || got.Confirmed != c.confirmed {
			t.Errorf("%s: phase %s confirmed %v, want %s %v", c.name, got.Phase, got.Confirmed, c.phase, c.confirmed)
		}
	}
}

// The settings a request acts on are resolved among the namespace's
// policies as the controller resolves them, whatever status.effective says
// (it may not exist yet, or be stale).
func TestObserveResolvesPolicies(t *testing.T) {
	created := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	tiny := v1alpha1.McpSessionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "tiny"},
		Spec: v1alpha1.McpSessionPolicySpec{
			Selector:            metav1.LabelSelector{MatchLabels: map[string]string{"tier": "tiny"}},
			Timing:              v1alpha1.Timing{IdleTimeout: &metav1.Duration{Duration: time.Minute}},
			Limits:              &v1alpha1.SessionLimits{MaxValueBytes: ptr.To[int64](100), MaxMessages: ptr.To[int64](10)},
			MaxSessionsPerOwner: &v1alpha1.OwnerQuota{Limit: 1},
		},
	}
	obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "u",
		Labels: map[string]string{"tier": "tiny"}, CreationTimestamp: metav1.NewTime(created)}}
	obj.Spec.Limits = &v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](5)}
	// A stale status.effective from before the policy existed.
	obj.Status.Effective = lifecycle.Resolve(obj.Spec, nil, lifecycle.DefaultDefaults()).Status()

	got := observe(created.Add(time.Second), obj, []v1alpha1.McpSessionPolicy{tiny}, lifecycle.DefaultDefaults(), time.Time{}).Settings
	want := lifecycle.SettingsFor(obj.Labels, obj.Spec, []v1alpha1.McpSessionPolicy{tiny}, lifecycle.DefaultDefaults())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("observe settings (-SettingsFor +observe):\n%s", diff)
	}
	if *got.Limits.MaxValueBytes != 100 || *got.Limits.MaxMessages != 5 || got.Policy != "tiny" || got.Quota == nil || got.IdleTimeout != time.Minute {
		t.Errorf("settings = %+v: want maxValueBytes 100 (policy), maxMessages 5 (spec), idleTimeout 1m and the quota of policy tiny", got)
	}
	// Past the policy's idleTimeout, not the default's: suspended.
	if s := observe(created.Add(2*time.Minute), obj, []v1alpha1.McpSessionPolicy{tiny}, lifecycle.DefaultDefaults(), time.Time{}); s.Phase != v1alpha1.PhaseSuspended {
		t.Errorf("phase two minutes in = %s, want Suspended by the policy's idleTimeout", s.Phase)
	}
}

// Activity is written at the second precision status keeps, and only
// when it is later than what status holds.
func TestAdvanceActivity(t *testing.T) {
	at := time.Date(2025, 9, 2, 18, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		cur, act time.Time
		want     time.Time
	}{
		{"none yet", time.Time{}, at.Add(700 * time.Millisecond), at},
		{"later", at, at.Add(2 * time.Second), at.Add(2 * time.Second)},
		{"earlier: kept", at, at.Add(-time.Minute), at},
		{"same second: kept", at, at.Add(900 * time.Millisecond), at},
		{"no activity", at, time.Time{}, at},
		{"no activity and none yet", time.Time{}, time.Time{}, time.Time{}},
	} {
		var st v1alpha1.McpSessionStatus
		if !tc.cur.IsZero() {
			st.LastActivityTime = &metav1.Time{Time: tc.cur}
		}
		advanceActivity(&st, tc.act)
		var got time.Time
		if st.LastActivityTime != nil {
			got = st.LastActivityTime.Time
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: lastActivityTime %v, want %v", tc.name, got, tc.want)
		}
	}
}
