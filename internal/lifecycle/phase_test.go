package lifecycle

import (
	"github.com/google/go-cmp/cmp"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func mt(d time.Duration) *metav1.Time { return &metav1.Time{Time: at(d)} }

// session builds a session created at t0 with the given modifications.
func session(mods ...func(*v1alpha1.McpSession)) *v1alpha1.McpSession {
	s := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: metav1.Time{Time: t0}}}
	for _, m := range mods {
		m(s)
	}
	return s
}

func phase(p v1alpha1.Phase) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) { s.Status.Phase = p }
}

func cond(typ, reason string) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) {
		s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason})
	}
}

func activity(d time.Duration) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) { s.Status.LastActivityTime = mt(d) }
}

func suspendedAt(d time.Duration) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) { s.Status.SuspendedAt = mt(d) }
}

func resumedAt(d time.Duration) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) { s.Status.ResumedAt = mt(d) }
}

func terminatedAt(d time.Duration) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) { s.Status.TerminatedAt = mt(d) }
}

func specSuspend(s *v1alpha1.McpSession)   { s.Spec.Suspend = true }
func specTerminate(s *v1alpha1.McpSession) { s.Spec.Terminate = true }

func annotated(reason string) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) {
		s.Annotations = map[string]string{v1alpha1.TerminationReasonAnnotation: reason}
	}
}

// idleSuspended is a session the controller suspended for idleness at d.
func idleSuspended(d time.Duration) func(*v1alpha1.McpSession) {
	return func(s *v1alpha1.McpSession) {
		phase(v1alpha1.PhaseSuspended)(s)
		cond(v1alpha1.ConditionSuspended, v1alpha1.ReasonIdle)(s)
		suspendedAt(d)(s)
	}
}

func TestDecide(t *testing.T) {
	set := Settings{IdleTimeout: 30 * time.Minute, TTL: 24 * time.Hour, Retention: time.Hour}
	none := Settings{}
	ttlOnly := Settings{TTL: 24 * time.Hour}

	tests := []struct {
		name      string
		session   *v1alpha1.McpSession
		now       time.Time
		set       Settings
		overQuota bool
		want      Decision
	}{
		// Active and its deadlines.
		{
			name:    "new session is active until idle deadline counted from creation",
			session: session(), now: at(time.Minute), set: set,
			want: Decision{Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonActive,
				ExpiresAt: at(24 * time.Hour), RequeueAfter: 29 * time.Minute},
		},
		{
			name:    "recorded activity moves both deadlines",
			session: session(phase(v1alpha1.PhaseActive), activity(time.Hour)), now: at(time.Hour + time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonActive,
				ExpiresAt: at(25 * time.Hour), RequeueAfter: 29 * time.Minute},
		},
		{
			name:    "ttl deadline is requeued when it is the nearest",
			session: session(phase(v1alpha1.PhaseActive)), now: at(time.Minute),
			set: Settings{IdleTimeout: 2 * time.Hour, TTL: time.Hour},
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonActive,
				ExpiresAt: at(time.Hour), RequeueAfter: 59 * time.Minute},
		},
		{
			name:    "no deadlines, nothing scheduled",
			session: session(phase(v1alpha1.PhaseActive)), now: at(1000 * time.Hour), set: none,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonActive},
		},
		{
			name:    "one nanosecond before the idle deadline is still active",
			session: session(phase(v1alpha1.PhaseActive)), now: at(30*time.Minute - 1), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonActive,
				ExpiresAt: at(24 * time.Hour), RequeueAfter: 1},
		},

		// Suspension.
		{
			name:    "idle deadline reached exactly: suspended now",
			session: session(phase(v1alpha1.PhaseActive)), now: at(30 * time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonIdle,
				SuspendedAt: at(30 * time.Minute), ExpiresAt: at(24 * time.Hour), RequeueAfter: 23*time.Hour + 30*time.Minute},
		},
		{
			name:    "idle deadline long passed (controller was down): suspended now, stamped now",
			session: session(phase(v1alpha1.PhaseActive)), now: at(5 * time.Hour), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonIdle,
				SuspendedAt: at(5 * time.Hour), ExpiresAt: at(24 * time.Hour), RequeueAfter: 19 * time.Hour},
		},
		{
			name:    "stamps are truncated to the second, as status stores them",
			session: session(phase(v1alpha1.PhaseActive)), now: at(30*time.Minute + 700*time.Millisecond), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonIdle,
				SuspendedAt: at(30 * time.Minute), ExpiresAt: at(24 * time.Hour),
				RequeueAfter: 23*time.Hour + 30*time.Minute - 700*time.Millisecond},
		},
		{
			name:    "spec.suspend suspends an active session (Requested)",
			session: session(phase(v1alpha1.PhaseActive), specSuspend), now: at(time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonRequested,
				SuspendedAt: at(time.Minute), ExpiresAt: at(24 * time.Hour), RequeueAfter: 23*time.Hour + 59*time.Minute},
		},
		{
			name:    "spec.suspend on a new session",
			session: session(specSuspend), now: at(0), set: set,
			want: Decision{Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonRequested,
				SuspendedAt: at(0), ExpiresAt: at(24 * time.Hour), RequeueAfter: 24 * time.Hour},
		},
		{
			name: "requested suspension keeps its suspendedAt",
			session: session(phase(v1alpha1.PhaseSuspended), cond(v1alpha1.ConditionSuspended, v1alpha1.ReasonRequested),
				suspendedAt(time.Minute), specSuspend), now: at(10 * time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonRequested,
				SuspendedAt: at(time.Minute), ExpiresAt: at(24 * time.Hour), RequeueAfter: 23*time.Hour + 50*time.Minute},
		},
		{
			name: "spec.suspend wins over fresh activity",
			session: session(phase(v1alpha1.PhaseSuspended), cond(v1alpha1.ConditionSuspended, v1alpha1.ReasonRequested),
				suspendedAt(time.Minute), activity(5*time.Minute), specSuspend), now: at(6 * time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonRequested,
				SuspendedAt: at(time.Minute), ExpiresAt: at(24*time.Hour + 5*time.Minute), RequeueAfter: 23*time.Hour + 59*time.Minute},
		},
		{
			name: "spec.suspend cleared, not idle: resumed",
			session: session(phase(v1alpha1.PhaseSuspended), cond(v1alpha1.ConditionSuspended, v1alpha1.ReasonRequested),
				suspendedAt(time.Minute)), now: at(10 * time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonResumed,
				SuspendedAt: at(time.Minute), ResumedAt: at(10 * time.Minute), ExpiresAt: at(24 * time.Hour), RequeueAfter: 20 * time.Minute},
		},
		{
			name: "spec.suspend cleared but idle: stays suspended, now as Idle",
			session: session(phase(v1alpha1.PhaseSuspended), cond(v1alpha1.ConditionSuspended, v1alpha1.ReasonRequested),
				suspendedAt(time.Minute)), now: at(2 * time.Hour), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonIdle,
				SuspendedAt: at(time.Minute), ExpiresAt: at(24 * time.Hour), RequeueAfter: 22 * time.Hour},
		},
		{
			name:    "idle-suspended with activity after the suspension: resumed",
			session: session(idleSuspended(30*time.Minute), activity(time.Hour)), now: at(time.Hour + time.Second), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonResumed,
				SuspendedAt: at(30 * time.Minute), ResumedAt: at(time.Hour + time.Second), ExpiresAt: at(25 * time.Hour),
				RequeueAfter: 30*time.Minute - time.Second},
		},
		{
			name:    "activity in the same second as the suspension counts as after it",
			session: session(idleSuspended(30*time.Minute), activity(30*time.Minute)), now: at(31 * time.Minute),
			set: Settings{IdleTimeout: 10 * time.Minute},
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonResumed,
				SuspendedAt: at(30 * time.Minute), ResumedAt: at(31 * time.Minute), RequeueAfter: 9 * time.Minute},
		},
		{
			name:    "idle-suspended, idleTimeout raised but no new activity: stays suspended",
			session: session(idleSuspended(30 * time.Minute)), now: at(40 * time.Minute),
			set: Settings{IdleTimeout: 2 * time.Hour, TTL: 24 * time.Hour},
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonIdle,
				SuspendedAt: at(30 * time.Minute), ExpiresAt: at(24 * time.Hour), RequeueAfter: 23*time.Hour + 20*time.Minute},
		},
		{
			name:    "idle-suspended, activity recorded but still stale: stays suspended",
			session: session(idleSuspended(3*time.Hour), activity(2*time.Hour)), now: at(3*time.Hour + time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseSuspended, Reason: v1alpha1.ReasonIdle,
				SuspendedAt: at(3 * time.Hour), ExpiresAt: at(26 * time.Hour), RequeueAfter: 22*time.Hour + 59*time.Minute},
		},
		{
			name:    "resumed session keeps reason Resumed and resumedAt",
			session: session(phase(v1alpha1.PhaseActive), suspendedAt(time.Minute), resumedAt(5*time.Minute), activity(5*time.Minute)),
			now:     at(6 * time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonResumed,
				SuspendedAt: at(time.Minute), ResumedAt: at(5 * time.Minute), ExpiresAt: at(24*time.Hour + 5*time.Minute),
				RequeueAfter: 29 * time.Minute},
		},
		{
			name:    "no idle timeout: never suspends for idleness",
			session: session(phase(v1alpha1.PhaseActive)), now: at(23 * time.Hour), set: ttlOnly,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseActive, Reason: v1alpha1.ReasonActive,
				ExpiresAt: at(24 * time.Hour), RequeueAfter: time.Hour},
		},

		// Termination.
		{
			name:    "ttl reached: expired",
			session: session(phase(v1alpha1.PhaseSuspended), suspendedAt(30*time.Minute)), now: at(24 * time.Hour), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired,
				SuspendedAt: at(30 * time.Minute), TerminatedAt: at(24 * time.Hour),
				ExpiresAt: at(25 * time.Hour), DeleteAt: at(25 * time.Hour), RequeueAfter: time.Hour},
		},
		{
			name:    "ttl reached with spec.suspend: expired all the same",
			session: session(phase(v1alpha1.PhaseSuspended), specSuspend), now: at(30 * time.Hour), set: set,
			want: Decision{From: v1alpha1.PhaseSuspended, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired,
				TerminatedAt: at(30 * time.Hour), ExpiresAt: at(31 * time.Hour), DeleteAt: at(31 * time.Hour), RequeueAfter: time.Hour},
		},
		{
			name:    "ttl shorter than idle timeout: expires first",
			session: session(phase(v1alpha1.PhaseActive)), now: at(time.Hour), set: Settings{IdleTimeout: 2 * time.Hour, TTL: time.Hour},
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired,
				TerminatedAt: at(time.Hour)},
		},
		{
			name:    "spec.terminate: terminated (Requested)",
			session: session(phase(v1alpha1.PhaseActive), specTerminate), now: at(time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonRequested,
				TerminatedAt: at(time.Minute), ExpiresAt: at(time.Hour + time.Minute), DeleteAt: at(time.Hour + time.Minute), RequeueAfter: time.Hour},
		},
		{
			name:    "spec.terminate beats spec.suspend",
			session: session(specSuspend, specTerminate), now: at(0), set: set,
			want: Decision{Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonRequested,
				TerminatedAt: at(0), ExpiresAt: at(time.Hour), DeleteAt: at(time.Hour), RequeueAfter: time.Hour},
		},
		{
			name:    "over quota: terminated (QuotaExceeded)",
			session: session(phase(v1alpha1.PhaseActive)), now: at(time.Minute), set: set, overQuota: true,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonQuotaExceeded,
				TerminatedAt: at(time.Minute), ExpiresAt: at(time.Hour + time.Minute), DeleteAt: at(time.Hour + time.Minute), RequeueAfter: time.Hour},
		},
		{
			name:    "expiry is reported before quota",
			session: session(phase(v1alpha1.PhaseActive)), now: at(25 * time.Hour), set: set, overQuota: true,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired,
				TerminatedAt: at(25 * time.Hour), ExpiresAt: at(26 * time.Hour), DeleteAt: at(26 * time.Hour), RequeueAfter: time.Hour},
		},
		{
			name:    "spec.terminate is reported before quota",
			session: session(phase(v1alpha1.PhaseActive), specTerminate), now: at(time.Minute), set: none, overQuota: true,
			want: Decision{From: v1alpha1.PhaseActive, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonRequested,
				TerminatedAt: at(time.Minute)},
		},

		// Terminated is sticky; retention.
		{
			name: "terminated stays terminated with its reason, even with fresh activity and spec.suspend",
			session: session(phase(v1alpha1.PhaseTerminated), cond(v1alpha1.ConditionTerminated, v1alpha1.ReasonQuotaExceeded),
				terminatedAt(time.Minute), activity(2*time.Minute), specSuspend), now: at(3 * time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseTerminated, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonQuotaExceeded,
				TerminatedAt: at(time.Minute), ExpiresAt: at(time.Hour + time.Minute), DeleteAt: at(time.Hour + time.Minute), RequeueAfter: 58 * time.Minute},
		},
		{
			name: "retention reached: delete",
			session: session(phase(v1alpha1.PhaseTerminated), cond(v1alpha1.ConditionTerminated, v1alpha1.ReasonExpired),
				terminatedAt(24*time.Hour)), now: at(25 * time.Hour), set: set,
			want: Decision{From: v1alpha1.PhaseTerminated, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired,
				TerminatedAt: at(24 * time.Hour), ExpiresAt: at(25 * time.Hour), DeleteAt: at(25 * time.Hour), Delete: true},
		},
		{
			name: "retention long passed: delete, never a negative requeue",
			session: session(phase(v1alpha1.PhaseTerminated), cond(v1alpha1.ConditionTerminated, v1alpha1.ReasonRequested),
				terminatedAt(time.Minute)), now: at(100 * time.Hour), set: set,
			want: Decision{From: v1alpha1.PhaseTerminated, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonRequested,
				TerminatedAt: at(time.Minute), ExpiresAt: at(time.Hour + time.Minute), DeleteAt: at(time.Hour + time.Minute), Delete: true},
		},
		{
			name: "no retention: kept, nothing scheduled",
			session: session(phase(v1alpha1.PhaseTerminated), cond(v1alpha1.ConditionTerminated, v1alpha1.ReasonRequested),
				terminatedAt(time.Minute)), now: at(1000 * time.Hour), set: ttlOnly,
			want: Decision{From: v1alpha1.PhaseTerminated, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonRequested,
				TerminatedAt: at(time.Minute)},
		},
		{
			name:    "terminated phase without condition or record: reason falls back to Expired, terminatedAt to now",
			session: session(phase(v1alpha1.PhaseTerminated)), now: at(time.Minute), set: set,
			want: Decision{From: v1alpha1.PhaseTerminated, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired,
				TerminatedAt: at(time.Minute), ExpiresAt: at(time.Hour + time.Minute), DeleteAt: at(time.Hour + time.Minute), RequeueAfter: time.Hour},
		},
		{
			name:    "status lost, annotation remembers QuotaExceeded: terminated again, retention restarts",
			session: session(annotated(v1alpha1.ReasonQuotaExceeded)), now: at(time.Minute), set: set,
			want: Decision{Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonQuotaExceeded,
				TerminatedAt: at(time.Minute), ExpiresAt: at(time.Hour + time.Minute), DeleteAt: at(time.Hour + time.Minute), RequeueAfter: time.Hour},
		},
		{
			name:    "status lost, spec.terminate remembers Requested",
			session: session(specTerminate), now: at(time.Minute), set: none,
			want: Decision{Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonRequested, TerminatedAt: at(time.Minute)},
		},
		{
			name: "condition reason beats annotation",
			session: session(phase(v1alpha1.PhaseTerminated), cond(v1alpha1.ConditionTerminated, v1alpha1.ReasonExpired),
				annotated(v1alpha1.ReasonQuotaExceeded), terminatedAt(0)), now: at(time.Minute), set: none,
			want: Decision{From: v1alpha1.PhaseTerminated, Phase: v1alpha1.PhaseTerminated, Reason: v1alpha1.ReasonExpired, TerminatedAt: at(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.now, tt.session, tt.set, tt.overQuota)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Decide (-want +got):\n%s", diff)
			}
			if got.RequeueAfter < 0 {
				t.Fatalf("negative requeue %v", got.RequeueAfter)
			}
			if got.Delete && got.RequeueAfter != 0 {
				t.Fatalf("delete and requeue at once")
			}
		})
	}
}

func TestDecisionEvent(t *testing.T) {
	tests := []struct {
		from, to v1alpha1.Phase
		reason   string
		want     string
	}{
		{"", v1alpha1.PhaseActive, v1alpha1.ReasonActive, ""},
		{v1alpha1.PhaseActive, v1alpha1.PhaseActive, v1alpha1.ReasonActive, ""},
		{v1alpha1.PhaseActive, v1alpha1.PhaseSuspended, v1alpha1.ReasonIdle, EventSuspended},
		{"", v1alpha1.PhaseSuspended, v1alpha1.ReasonRequested, EventSuspended},
		{v1alpha1.PhaseSuspended, v1alpha1.PhaseSuspended, v1alpha1.ReasonIdle, ""},
		{v1alpha1.PhaseSuspended, v1alpha1.PhaseActive, v1alpha1.ReasonResumed, EventResumed},
		{v1alpha1.PhaseActive, v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired, EventExpired},
		{v1alpha1.PhaseSuspended, v1alpha1.PhaseTerminated, v1alpha1.ReasonRequested, EventTerminated},
		{v1alpha1.PhaseActive, v1alpha1.PhaseTerminated, v1alpha1.ReasonQuotaExceeded, EventQuotaExceeded},
		{v1alpha1.PhaseTerminated, v1alpha1.PhaseTerminated, v1alpha1.ReasonExpired, ""},
	}
	for _, tt := range tests {
		d := Decision{From: tt.from, Phase: tt.to, Reason: tt.reason}
		if got := d.Event(); got != tt.want {
			t.Errorf("%q -> %q (%s): Event = %q, want %q", tt.from, tt.to, tt.reason, got, tt.want)
		}
	}
}

func TestLastActivity(t *testing.T) {
	if got := LastActivity(session()); !got.Equal(t0) {
		t.Errorf("no activity: %v, want creation %v", got, t0)
	}
	if got := LastActivity(session(activity(time.Hour))); !got.Equal(at(time.Hour)) {
		t.Errorf("activity: %v, want %v", got, at(time.Hour))
	}
}
