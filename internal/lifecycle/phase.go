package lifecycle

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Event reasons emitted on transitions (also the condition reasons where
// they coincide).
const (
	EventSuspended     = "Suspended"
	EventResumed       = "Resumed"
	EventExpired       = "Expired"
	EventTerminated    = "Terminated"
	EventQuotaExceeded = "QuotaExceeded"
)

// Decision is what a session should look like now, and when it next needs
// attention.
type Decision struct {
	// From is the phase recorded in status before this decision ("" for a
	// session never reconciled, or whose status was lost).
	From v1alpha1.Phase
	// Phase is the phase the session is in now.
	Phase v1alpha1.Phase
	// Reason explains Phase: Active or Resumed; Idle or Requested;
	// Requested, Expired or QuotaExceeded.
	Reason string

	// SuspendedAt, ResumedAt and TerminatedAt are the values status should
	// hold: carried over, or set to now by this transition. Zero means unset.
	SuspendedAt  time.Time
	ResumedAt    time.Time
	TerminatedAt time.Time
	// ExpiresAt is the TTL expiry while the session lives and its deletion
	// time once terminated; zero when no such deadline applies.
	ExpiresAt time.Time

	// Delete is true when a terminated session's retention has run out.
	Delete bool
	// DeleteAt is when retention runs out (zero when it never does).
	DeleteAt time.Time
	// RequeueAfter is the time until the nearest future deadline, always > 0,
	// or 0 when no deadline is pending (nothing to schedule).
	RequeueAfter time.Duration
}

// Transitioned reports whether the phase changed.
func (d Decision) Transitioned() bool { return d.From != d.Phase }

// Event returns the event reason for this decision's transition, or "" when
// the change is not one users are told about (no change, or a new session
// becoming Active).
func (d Decision) Event() string {
	if !d.Transitioned() {
		return ""
	}
	switch d.Phase {
	case v1alpha1.PhaseSuspended:
		return EventSuspended
	case v1alpha1.PhaseActive:
		if d.From == v1alpha1.PhaseSuspended {
			return EventResumed
		}
	case v1alpha1.PhaseTerminated:
		switch d.Reason {
		case v1alpha1.ReasonExpired:
			return EventExpired
		case v1alpha1.ReasonQuotaExceeded:
			return EventQuotaExceeded
		default:
			return EventTerminated
		}
	}
	return ""
}

// LastActivity is the time a session's idle and ttl deadlines count from:
// status.lastActivityTime, or the creation time when no activity has been
// recorded yet.
func LastActivity(s *v1alpha1.McpSession) time.Time {
	if s.Status.LastActivityTime != nil && !s.Status.LastActivityTime.IsZero() {
		return s.Status.LastActivityTime.Time
	}
	return s.CreationTimestamp.Time
}

// TerminationReason returns why a session is terminated if it is, judged
// from what survives: status (phase and Terminated condition), the
// termination-reason annotation (which survives a status loss, e.g. a backup
// restored without status) and spec.terminate. ok is false for a live session.
func TerminationReason(s *v1alpha1.McpSession) (reason string, ok bool) {
	if s.Status.Phase == v1alpha1.PhaseTerminated {
		if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionTerminated); c != nil && c.Reason != "" {
			return c.Reason, true
		}
	}
	if r := s.Annotations[v1alpha1.TerminationReasonAnnotation]; r != "" {
		return r, true
	}
	if s.Spec.Terminate {
		return v1alpha1.ReasonRequested, true
	}
	if s.Status.Phase == v1alpha1.PhaseTerminated {
		// Terminated with the reason lost: the phase alone is sticky, and
		// expiry is the only operator action that needs no other record.
		return v1alpha1.ReasonExpired, true
	}
	return "", false
}

// Decide computes a session's phase at now, the timestamps that go with it
// and its next deadline, from its spec, its status and the settings in force.
// overQuota says whether the owner quota chose this session for termination
// (see OverQuota).
//
// Rules, first match wins:
//  1. Terminated is sticky: once terminated, a session stays terminated with
//     the reason it was terminated for, and is deleted at terminatedAt +
//     retention.
//  2. spec.terminate: Terminated (Requested).
//  3. no activity for ttl: Terminated (Expired).
//  4. chosen by the owner quota: Terminated (QuotaExceeded).
//  5. spec.suspend: Suspended (Requested).
//  6. no activity for idleTimeout: Suspended (Idle).
//  7. suspended as idle and no activity recorded since the suspension: stays
//     Suspended (Idle); a longer idleTimeout alone does not wake a session,
//     a client has to act.
//  8. otherwise Active (Resumed if it was suspended).
//
// Activity counts from status.lastActivityTime, else the creation time. A
// deadline at or before now is acted on now; RequeueAfter is only ever set
// for deadlines strictly in the future.
func Decide(now time.Time, s *v1alpha1.McpSession, set Settings, overQuota bool) Decision {
	// Timestamps are stored with one-second precision (RFC 3339); stamping
	// them truncated here keeps the decision equal to what a later read of
	// status returns, so the next reconcile finds nothing to change.
	stamp := now.Truncate(time.Second)
	st := &s.Status
	d := Decision{
		From:         st.Phase,
		SuspendedAt:  timeOf(st.SuspendedAt),
		ResumedAt:    timeOf(st.ResumedAt),
		TerminatedAt: timeOf(st.TerminatedAt),
	}

	if reason, ok := TerminationReason(s); ok {
		return terminated(now, stamp, d, reason, set)
	}

	last := LastActivity(s)
	expireAt := deadline(last, set.TTL)
	suspendAt := deadline(last, set.IdleTimeout)
	switch {
	case !expireAt.IsZero() && !now.Before(expireAt):
		return terminated(now, stamp, d, v1alpha1.ReasonExpired, set)
	case overQuota:
		return terminated(now, stamp, d, v1alpha1.ReasonQuotaExceeded, set)
	}

	d.ExpiresAt = expireAt
	d.Phase = v1alpha1.PhaseSuspended
	switch {
	case s.Spec.Suspend:
		d.Reason = v1alpha1.ReasonRequested
	case !suspendAt.IsZero() && !now.Before(suspendAt):
		d.Reason = v1alpha1.ReasonIdle
	case st.Phase == v1alpha1.PhaseSuspended && suspendedReason(s) == v1alpha1.ReasonIdle &&
		st.SuspendedAt != nil && last.Before(st.SuspendedAt.Time):
		d.Reason = v1alpha1.ReasonIdle
	default:
		d.Phase = v1alpha1.PhaseActive
		d.Reason = v1alpha1.ReasonActive
		if st.Phase == v1alpha1.PhaseSuspended {
			d.ResumedAt = stamp
		}
		if st.Phase == v1alpha1.PhaseSuspended || (st.Phase == v1alpha1.PhaseActive && isResumed(s)) {
			d.Reason = v1alpha1.ReasonResumed
		}
		d.RequeueAfter = nearest(now, expireAt, suspendAt)
		return d
	}
	if st.Phase != v1alpha1.PhaseSuspended || d.SuspendedAt.IsZero() {
		d.SuspendedAt = stamp
	}
	d.RequeueAfter = nearest(now, expireAt)
	return d
}

func terminated(now, stamp time.Time, d Decision, reason string, set Settings) Decision {
	d.Phase = v1alpha1.PhaseTerminated
	d.Reason = reason
	if d.From != v1alpha1.PhaseTerminated || d.TerminatedAt.IsZero() {
		d.TerminatedAt = stamp
	}
	d.DeleteAt = deadline(d.TerminatedAt, set.Retention)
	d.ExpiresAt = d.DeleteAt
	if !d.DeleteAt.IsZero() && !now.Before(d.DeleteAt) {
		d.Delete = true
		return d
	}
	d.RequeueAfter = nearest(now, d.DeleteAt)
	return d
}

// deadline is from+after, or zero when after is 0 (no such deadline).
func deadline(from time.Time, after time.Duration) time.Time {
	if after <= 0 {
		return time.Time{}
	}
	return from.Add(after)
}

// nearest returns the time from now to the earliest deadline strictly after
// now, or 0 when there is none. Deadlines at or before now have been acted on
// by the caller, so they are never scheduled (no tight requeue loops).
func nearest(now time.Time, deadlines ...time.Time) time.Duration {
	var best time.Duration
	for _, t := range deadlines {
		if t.IsZero() || !t.After(now) {
			continue
		}
		if d := t.Sub(now); best == 0 || d < best {
			best = d
		}
	}
	return best
}

func suspendedReason(s *v1alpha1.McpSession) string {
	if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionSuspended); c != nil {
		return c.Reason
	}
	return ""
}

// isResumed keeps the Resumed reason on an active session that was resumed
// earlier, so the reason does not flip back and forth between reconciles.
func isResumed(s *v1alpha1.McpSession) bool {
	return s.Status.ResumedAt != nil
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
