package lifecycle

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// ApplyDecision writes a decision into s.Status: phase, the Ready,
// Suspended and Terminated conditions, the timestamps, expiresAt,
// observedGeneration and the effective settings. Fields other writers own
// (lastActivityTime, counts) are left alone. Both keepers of lifecycle
// state call it: the McpSession controller and the MCP server's local
// registry (stdio mode), so the two record the same status.
//
// Condition transition times are now (truncated to the second, as the API
// stores them) and change only when a condition's status does
// (meta.SetStatusCondition), so re-applying an unchanged decision leaves
// status byte-for-byte equal and a caller can skip the write.
func ApplyDecision(s *v1alpha1.McpSession, d Decision, set Settings, now time.Time) {
	st := &s.Status
	st.Phase = d.Phase
	st.ObservedGeneration = s.Generation
	st.SuspendedAt = timeOrNil(d.SuspendedAt)
	st.ResumedAt = timeOrNil(d.ResumedAt)
	st.TerminatedAt = timeOrNil(d.TerminatedAt)
	st.ExpiresAt = timeOrNil(d.ExpiresAt)
	st.Effective = set.Status()

	ltt := metav1.NewTime(now.Truncate(time.Second))
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: s.Generation, LastTransitionTime: ltt,
		})
	}
	notTerminated := func() {
		cond(v1alpha1.ConditionTerminated, metav1.ConditionFalse, v1alpha1.ReasonNotTerminated, "The session has not been terminated.")
	}
	switch d.Phase {
	case v1alpha1.PhaseActive:
		cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonActive, "The session accepts reads and writes.")
		if d.Reason == v1alpha1.ReasonResumed {
			cond(v1alpha1.ConditionSuspended, metav1.ConditionFalse, v1alpha1.ReasonResumed, "The session was resumed.")
		} else {
			cond(v1alpha1.ConditionSuspended, metav1.ConditionFalse, v1alpha1.ReasonNotSuspended, "The session is not suspended.")
		}
		notTerminated()
	case v1alpha1.PhaseSuspended:
		msg := SuspendedMessage(d, set)
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, d.Reason, msg)
		cond(v1alpha1.ConditionSuspended, metav1.ConditionTrue, d.Reason, msg)
		notTerminated()
	case v1alpha1.PhaseTerminated:
		msg := TerminatedMessage(s, d, set)
		cond(v1alpha1.ConditionReady, metav1.ConditionFalse, d.Reason, msg)
		cond(v1alpha1.ConditionSuspended, metav1.ConditionFalse, v1alpha1.ReasonNotSuspended, "The session is terminated, not suspended.")
		cond(v1alpha1.ConditionTerminated, metav1.ConditionTrue, d.Reason, msg)
	}
}

// SuspendedMessage explains a suspension, for the conditions and the Event.
func SuspendedMessage(d Decision, set Settings) string {
	if d.Reason == v1alpha1.ReasonRequested {
		return "spec.suspend is true; clear it to resume the session."
	}
	return fmt.Sprintf("No activity within the idleTimeout of %s; reads still work, a client action resumes the session.", set.IdleTimeout)
}

// TerminatedMessage explains a termination. Once terminated the message is
// kept as first written: the settings or quota that caused it may have
// changed since, and the condition records why it happened.
func TerminatedMessage(s *v1alpha1.McpSession, d Decision, set Settings) string {
	if d.From == v1alpha1.PhaseTerminated {
		if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionTerminated); c != nil &&
			c.Status == metav1.ConditionTrue && c.Reason == d.Reason && c.Message != "" {
			return c.Message
		}
	}
	switch d.Reason {
	case v1alpha1.ReasonRequested:
		return "spec.terminate is true; the session is read-only until retention deletes it."
	case v1alpha1.ReasonQuotaExceeded:
		if set.Quota != nil {
			return fmt.Sprintf("Owner %q went over the limit of %d live sessions of policy %s (action %s).",
				s.Spec.Owner, set.Quota.Limit, set.Policy, QuotaActionOf(set.Quota))
		}
		return "The owner went over a policy's maxSessionsPerOwner."
	default:
		return fmt.Sprintf("No activity within the ttl of %s; the session is read-only until retention deletes it.", set.TTL)
	}
}

// Status renders the settings as status.effective; SettingsFromStatus is
// its inverse. Durations of 0 (no deadline) are left unset.
func (s Settings) Status() *v1alpha1.EffectiveSettings {
	dur := func(d time.Duration) *metav1.Duration {
		if d <= 0 {
			return nil
		}
		return &metav1.Duration{Duration: d}
	}
	return &v1alpha1.EffectiveSettings{
		Timing: v1alpha1.Timing{
			IdleTimeout: dur(s.IdleTimeout),
			TTL:         dur(s.TTL),
			Retention:   dur(s.Retention),
		},
		Limits:              *s.Limits.DeepCopy(),
		Policy:              s.Policy,
		MaxSessionsPerOwner: s.Quota.DeepCopy(),
		Sources:             s.Sources,
	}
}

// SettingsFromStatus reads settings back from status.effective, as the
// controller last resolved them: the inverse of Settings.Status, so
// SettingsFromStatus(set.Status()) equals set. A nil status gives the zero
// Settings (no deadlines, no limits); an unset or negative duration means
// no deadline.
func SettingsFromStatus(e *v1alpha1.EffectiveSettings) Settings {
	if e == nil {
		return Settings{}
	}
	dur := func(d *metav1.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return nonNegative(d.Duration)
	}
	return Settings{
		IdleTimeout: dur(e.IdleTimeout),
		TTL:         dur(e.TTL),
		Retention:   dur(e.Retention),
		Limits:      *e.Limits.DeepCopy(),
		Policy:      e.Policy,
		Quota:       e.MaxSessionsPerOwner.DeepCopy(),
		Sources:     e.Sources,
	}
}

// timeOrNil renders a decided time for status, truncated to the second as
// the API stores it, so comparing with the stored value finds no change.
func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}
