package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by the store wraps at most one of
// them, so callers (the MCP server, the finalizer) can map them to a result
// with errors.Is without parsing messages.
var (
	// ErrNotFound reports a missing session, context key, or record.
	ErrNotFound = errors.New("not found")
	// ErrExists reports that Create or Import found the session already present.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports bad input: a malformed key, role, relevance, JSON
	// value or imported document. The wrapping message says what was wrong.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed reports use of a Store after Close.
	ErrClosed = errors.New("store is closed")
)

// invalidf builds an ErrInvalid-wrapping error; the message is what a client
// sees, so it names the offending field and value.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// LimitError reports a write refused because it would exceed a per-session
// limit. Nothing is written when it is returned. Use errors.As to get at the
// numbers, for example to show a client how much it must free.
type LimitError struct {
	// Limit is the name of the limit as it appears in a policy:
	// "maxValueBytes", "maxContextBytes" or "maxMessages".
	Limit string
	// Max is the configured limit.
	Max int64
	// Actual is the value the write would have produced (value size, total
	// context bytes, or message count).
	Actual int64
	// Over is Actual - Max.
	Over int64
}

// Error says which limit and by how much, in the unit of that limit.
func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitMaxValueBytes:
		return fmt.Sprintf("value is %d bytes, %d over the %s limit of %d", e.Actual, e.Over, e.Limit, e.Max)
	case LimitMaxContextBytes:
		return fmt.Sprintf("context would be %d bytes, %d over the %s limit of %d", e.Actual, e.Over, e.Limit, e.Max)
	case LimitMaxMessages:
		return fmt.Sprintf("session would have %d messages, %d over the %s limit of %d", e.Actual, e.Over, e.Limit, e.Max)
	default:
		return fmt.Sprintf("%s would be %d, %d over the limit of %d", e.Limit, e.Actual, e.Over, e.Max)
	}
}
