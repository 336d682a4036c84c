package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by the store wraps at most one of
// them (or is one of the typed errors below), so callers (the MCP server,
// the finalizer) map them to a result with errors.Is and errors.As, never
// by reading messages.
var (
	// ErrNotFound reports a missing session, context key, or record.
	ErrNotFound = errors.New("not found")
	// ErrExists reports that Create or Import found the session already present.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports bad input: a malformed key, role, relevance, JSON
	// value or imported record. Every such error is an *InvalidError.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed reports use of a Store after Close.
	ErrClosed = errors.New("store is closed")
)

// InvalidError says what is wrong with a write's input. Its Reason is
// meant for whoever sent the input, so it names the field and value.
type InvalidError struct {
	// Path is the record of an imported document the error is about
	// ("conversation_history[3]"), empty for a single write.
	Path string
	// Reason says what is wrong, e.g. `role "bot" is not one of user,
	// assistant, system, tool`.
	Reason string
}

// Error is "invalid argument: [<path>: ]<reason>".
func (e *InvalidError) Error() string {
	if e.Path == "" {
		return ErrInvalid.Error() + ": " + e.Reason
	}
	return ErrInvalid.Error() + ": " + e.Path + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true for every *InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalidf builds an *InvalidError; the message is what a client sees, so it
// names the offending field and value.
func invalidf(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
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
	// Path is the record of an imported document that went over the limit
	// ("discoveries[0]"), empty for a single write or a whole-session total.
	Path string
}

// Error says which limit and by how much, in the unit of that limit.
func (e *LimitError) Error() string {
	var msg string
	switch e.Limit {
	case LimitMaxValueBytes:
		msg = fmt.Sprintf("value is %d bytes, %d over the %s limit of %d", e.Actual, e.Over, e.Limit, e.Max)
	case LimitMaxContextBytes:
		msg = fmt.Sprintf("context would be %d bytes, %d over the %s limit of %d", e.Actual, e.Over, e.Limit, e.Max)
	case LimitMaxMessages:
		msg = fmt.Sprintf("session would have %d messages, %d over the %s limit of %d", e.Actual, e.Over, e.Limit, e.Max)
	default:
		msg = fmt.Sprintf("%s would be %d, %d over the limit of %d", e.Limit, e.Actual, e.Over, e.Max)
	}
	if e.Path != "" {
		return e.Path + ": " + msg
	}
	return msg
}

// atPath places an error about one record of an imported document: an
// *InvalidError or *LimitError gets the record's path, so the caller can
// say which record broke which rule.
func atPath(path string, err error) error {
	var ie *InvalidError
	if errors.As(err, &ie) && ie.Path == "" {
		return &InvalidError{Path: path, Reason: ie.Reason}
	}
	var le *LimitError
	if errors.As(err, &le) && le.Path == "" {
		c := *le
		c.Path = path
		return &c
	}
	return fmt.Errorf("%s: %w", path, err)
}

// ErrUnavailable reports that the store could not be reached (a database
// connection lost or refused). The backend reconnects by itself; the
// operation may be retried. A write that fails this way after it was sent
// may or may not have been applied, but it was not acknowledged.
var ErrUnavailable = errors.New("session store unavailable")
