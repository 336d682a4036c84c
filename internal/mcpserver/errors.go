package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// userError is a failure the caller can fix or act on. Its message is what
// the model reads in the isError tool result, so it says what was wrong and
// what to do instead.
type userError struct {
	msg   string
	cause error // a sentinel callers may test with errors.Is, or nil
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.cause }

func userErrorf(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...)}
}

// Registry errors, independent of where sessions are kept.
var (
	// ErrSessionNotFound: no session of that name in that namespace.
	ErrSessionNotFound = errors.New("session not found")
	// ErrSessionExists: create found a session of that name already.
	ErrSessionExists = errors.New("session already exists")
)

func errNotFound(namespace, name string) error {
	return &userError{cause: ErrSessionNotFound, msg: fmt.Sprintf("session %q not found in namespace %q: check the session_id and namespace, or list_sessions to see the sessions you can use", name, namespace)}
}

func errExists(namespace, name string) error {
	return userErrorf("session %q already exists in namespace %q; use resume_session to continue it, or choose another session_id", name, namespace)
}

func errSuspended(namespace, name string) error {
	return userErrorf("session %q in namespace %q is suspended; call resume_session to continue it, then retry (nothing was written)", name, namespace)
}

func errTerminated(namespace, name string) error {
	return userErrorf("session %q in namespace %q is terminated and read-only: it can still be read and exported (export_session) until it is deleted, but not written; create a new session (import_session can seed it from an export)", name, namespace)
}

// toolFailure turns any error from a tool into the error the go-sdk packs
// into an isError result: user errors, limits, invalid input and access
// denials verbatim; anything else (apiserver or disk trouble) logged and
// reported without internals.
func toolFailure(ctx context.Context, tool string, err error) error {
	msg, _ := classify(ctx, tool, err)
	return msg
}

// classify is toolFailure that also says whether the failure was the
// server's (internal) rather than the caller's to fix.
func classify(ctx context.Context, tool string, err error) (_ error, internal bool) {
	var ue *userError
	var le *store.LimitError
	var fb *auth.Forbidden
	switch {
	case errors.As(err, &ue):
		return ue, false
	case errors.As(err, &le):
		return userErrorf("%s refused: %s (nothing was written; free space in the session or ask an operator to raise the limit in an McpSessionPolicy)", tool, le.Error()), false
	case errors.As(err, &fb):
		return userErrorf("%s", fb.Error()), false
	case errors.Is(err, store.ErrInvalid):
		return userErrorf("%s: %s", tool, trimInvalid(err)), false
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return userErrorf("%s: the Kubernetes API refused the session: %s", tool, err.Error()), false
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return userErrorf("%s: the request was cancelled or timed out; retry", tool), false
	}
	log.FromContext(ctx).Error(err, "tool failed", "tool", tool)
	return userErrorf("%s failed on the server side (%s); retry later, or tell an operator if it persists", tool, internalSummary(err)), true
}

// trimInvalid keeps the part of a store validation error that describes the
// input, dropping the store's operation prefix (which names UIDs).
func trimInvalid(err error) string {
	msg := err.Error()
	const marker = "invalid argument: "
	if i := strings.Index(msg, marker); i >= 0 {
		return msg[i+len(marker):]
	}
	return msg
}

// internalSummary is a short, safe description of an internal error.
func internalSummary(err error) string {
	switch {
	case apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err):
		return "the Kubernetes API is busy"
	case apierrors.IsConflict(err):
		return "the session changed concurrently"
	case errors.Is(err, store.ErrClosed):
		return "the store is shutting down"
	}
	return "internal error"
}
