package lifecycle

import (
	"slices"
	"strings"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// QuotaMember is one live session counted against its owner's quota.
type QuotaMember struct {
	Name    string
	Created time.Time
	// LastActivity is status.lastActivityTime; zero when none is recorded.
	LastActivity time.Time
}

func (m QuotaMember) activity() time.Time {
	if m.LastActivity.IsZero() {
		return m.Created
	}
	return m.LastActivity
}

// OverQuota returns the names of the sessions to terminate so that one owner
// is back at the quota's limit. members are that owner's live sessions
// selected by the policy that carries the quota; the result is nil when they
// fit.
//
//   - Reject (the default) keeps the limit oldest sessions by creation time
//     and terminates the newest, as if the extra ones had been refused.
//   - TerminateOldest keeps the limit most recently active sessions (last
//     activity, else creation) and terminates the least recently active.
//
// Ties are broken deterministically so that every session, reconciling
// itself, reaches the same verdict: by creation time, then by name (the
// name sorting first counts as the older session). A limit below 1 is
// invalid (the CRD forbids it) and terminates nothing.
func OverQuota(members []QuotaMember, q v1alpha1.OwnerQuota) []string {
	limit := int(q.Limit)
	if limit < 1 || len(members) <= limit {
		return nil
	}
	ordered := slices.Clone(members)
	olderFirst := func(a, b QuotaMember) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}
	switch q.Action {
	case v1alpha1.QuotaTerminateOldest:
		// Most recently active first; the tail is terminated.
		slices.SortFunc(ordered, func(a, b QuotaMember) int {
			if c := b.activity().Compare(a.activity()); c != 0 {
				return c
			}
			return -olderFirst(a, b)
		})
	default:
		// Oldest first; the tail (the newest) is terminated.
		slices.SortFunc(ordered, olderFirst)
	}
	out := make([]string, 0, len(ordered)-limit)
	for _, m := range ordered[limit:] {
		out = append(out, m.Name)
	}
	return out
}

// QuotaActionOf is the quota's action, Reject when unset (the CRD's
// default).
func QuotaActionOf(q *v1alpha1.OwnerQuota) v1alpha1.QuotaAction {
	if q == nil || q.Action == "" {
		return v1alpha1.QuotaReject
	}
	return q.Action
}

// MemberOf is a session as counted against its owner's quota.
func MemberOf(s *v1alpha1.McpSession) QuotaMember {
	m := QuotaMember{Name: s.Name, Created: s.CreationTimestamp.Time}
	if s.Status.LastActivityTime != nil {
		m.LastActivity = s.Status.LastActivityTime.Time
	}
	return m
}

// QuotaPeers returns the sessions counted with one of owner's sessions
// against the quota of the policy named policy: among sessions (those of
// the namespace), the owner's other live sessions that the same policy wins
// for. A session is live when it is not being deleted and Decide at now
// does not find it terminated (by spec, ttl or an earlier verdict).
// Sessions of other owners, and the one with UID self, are skipped.
func QuotaPeers(now time.Time, owner, policy string, self string, sessions []v1alpha1.McpSession, policies []v1alpha1.McpSessionPolicy, d Defaults) []QuotaMember {
	var out []QuotaMember
	for i := range sessions {
		p := &sessions[i]
		if p.Spec.Owner != owner || string(p.UID) == self || p.DeletionTimestamp != nil {
			continue
		}
		winner := SelectPolicy(p.Labels, policies)
		if winner == nil || winner.Name != policy {
			continue
		}
		if Decide(now, p, Resolve(p.Spec, winner, d), false).Phase == v1alpha1.PhaseTerminated {
			continue
		}
		out = append(out, MemberOf(p))
	}
	return out
}

// RefusedByQuota reports whether the quota would terminate a new session
// named name at once: it joins the owner's live peers as their newest and
// most recently active member (whatever the clocks of the apiserver and
// this process say) and OverQuota picks it. Under Reject that is any create
// past the limit; under TerminateOldest never (an older session goes
// instead). The MCP server refuses such a create up front rather than
// create a session that is terminated a moment later.
func RefusedByQuota(peers []QuotaMember, name string, q v1alpha1.OwnerQuota) bool {
	var newest time.Time
	for _, p := range peers {
		for _, t := range []time.Time{p.Created, p.activity()} {
			if t.After(newest) {
				newest = t
			}
		}
	}
	candidate := QuotaMember{Name: name, Created: newest.Add(time.Second)}
	return slices.Contains(OverQuota(append(slices.Clone(peers), candidate), q), name)
}
