package store

import "github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"

// Names of the limits, as used in LimitError.Limit: the field names of
// the API's SessionLimits.
const (
	LimitMaxValueBytes   = "maxValueBytes"
	LimitMaxContextBytes = "maxContextBytes"
	LimitMaxMessages     = "maxMessages"
)

// Limits are the per-session limits a write is checked against: the API's
// SessionLimits as lifecycle.Resolve resolved them for the session (spec,
// else the winning policy, else the operator's defaults), passed with each
// write rather than stored with the session, so tightening a policy applies
// to the next write without rewriting anything. An unset field is
// unlimited.
//
// The store is the one layer that enforces them, on every write:
// SetContext, AppendMessage, AppendDiscovery and Import. A write past a
// limit fails with a *LimitError before anything is written.
//
//   - MaxValueBytes bounds one value: a context value (compact JSON bytes),
//     a message's content, a discovery's title and description together.
//   - MaxContextBytes bounds the sum over all context entries of
//     len(key) + len(compact JSON value).
//   - MaxMessages bounds the number of messages in the history.
type Limits = v1alpha1.SessionLimits

func limitOf(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// checkValue refuses one value larger than MaxValueBytes.
func checkValue(l Limits, size int64) error {
	return over(LimitMaxValueBytes, limitOf(l.MaxValueBytes), size)
}

// checkContext refuses a context total larger than MaxContextBytes. It takes
// the total the write would produce, so replacing a value with a smaller one
// is always allowed even when the session is already over a lowered limit.
func checkContext(l Limits, current, next int64) error {
	if next <= current {
		return nil
	}
	return over(LimitMaxContextBytes, limitOf(l.MaxContextBytes), next)
}

// checkMessages refuses a history longer than MaxMessages.
func checkMessages(l Limits, next int64) error {
	return over(LimitMaxMessages, limitOf(l.MaxMessages), next)
}

func over(name string, max, actual int64) error {
	if max <= 0 || actual <= max {
		return nil
	}
	return &LimitError{Limit: name, Max: max, Actual: actual, Over: actual - max}
}
