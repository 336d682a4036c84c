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
