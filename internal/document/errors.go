package document

import (
	"errors"
	"fmt"
)

// ErrInvalid is what every error about a document's content wraps, so
// callers tell a bad document from a failure to read one with errors.Is.
var ErrInvalid = errors.New("invalid session document")

// Error says what is wrong with a document and where. Path is the JSON
// path of the offending field ("conversation_history[3].timestamp"), empty
// for the document as a whole.
type Error struct {
	Path   string
	Reason string
}

// Error is "<path>: <reason>", or the reason alone.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func invalidf(path, format string, args ...any) error {
	return &Error{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// ContextPath, MessagePath and DiscoveryPath name a record of a document,
// for errors that point at it (the store's, when a record breaks its rules
// or limits on import).
func ContextPath(key string) string { return fmt.Sprintf("context[%q]", key) }

// MessagePath names the i-th message (from 0) of conversation_history.
func MessagePath(i int) string { return fmt.Sprintf("conversation_history[%d]", i) }

// DiscoveryPath names the i-th discovery (from 0).
func DiscoveryPath(i int) string { return fmt.Sprintf("discoveries[%d]", i) }
