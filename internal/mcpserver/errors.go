package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/auth"
	"github.com/mcp-session-operator/mcp-session-operator/internal/document"
	"github.com/mcp-session-operator/mcp-session-operator/internal/sessions"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// userError is a failure the caller can fix or act on. Its message is what
// the model reads in the isError tool result, so it says what was wrong and
// what to do instead.
type userError struct {
	msg   string
	cause error // the typed error it words, for errors.Is and errors.As, or nil
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.cause }

func userErrorf(format string, args ...any) error {
	return &userError{msg: fmt.Sprintf(format, args...)}
}

// toolFailure turns any error from a tool into the error the go-sdk packs
// into an isError result: what the caller can act on (bad input, an
// unknown or read-only session, a limit, a quota, an access denial) worded
// for it; anything else (apiserver or disk trouble) logged and reported
// without internals.
func toolFailure(ctx context.Context, tool string, err error) error {
	msg, _ := classify(ctx, tool, err)
	return msg
}

// classify is toolFailure that also says whether the failure was the
// server's (internal) rather than the caller's to fix. Errors are told
// apart by type (errors.As, errors.Is), never by their text.
func classify(ctx context.Context, tool string, err error) (_ error, internal bool) {
	var (
		ue  *userError
		le  *store.LimitError
		ie  *store.InvalidError
		de  *document.Error
		fb  *auth.Forbidden
		nf  *sessions.NotFoundError
		ex  *sessions.ExistsError
		ph  *sessions.PhaseError
		qe  *sessions.QuotaError
		ne  *sessions.NameError
		msg string
	)
	switch {
	case errors.As(err, &ue):
		return ue, false
	case errors.As(err, &nf):
		msg = fmt.Sprintf("session %q not found in namespace %q: check the session_id and namespace, or list_sessions to see the sessions you can use", nf.Name, nf.Namespace)
	case errors.As(err, &ex):
		msg = fmt.Sprintf("session %q already exists in namespace %q; use resume_session to continue it, or choose another session_id", ex.Name, ex.Namespace)
	case errors.As(err, &ph) && ph.Phase == v1alpha1.PhaseSuspended:
		msg = fmt.Sprintf("session %q in namespace %q is suspended; call resume_session to continue it, then retry (nothing was written)", ph.Name, ph.Namespace)
	case errors.As(err, &ph):
		msg = fmt.Sprintf("session %q in namespace %q is terminated and read-only: it can still be read and exported (export_session) until it is deleted, but not written; create a new session (import_session can seed it from an export)", ph.Name, ph.Namespace)
	case errors.As(err, &qe):
		msg = fmt.Sprintf("%s refused: %s, so a new session would be over the quota (nothing was created); terminate or delete one of your sessions first, or ask an operator to raise the limit", tool, qe.Error())
	case errors.As(err, &le):
		msg = fmt.Sprintf("%s refused: %s (nothing was written; free space in the session or ask an operator to raise the limit in an McpSessionPolicy)", tool, le.Error())
	case errors.As(err, &ie):
		msg = fmt.Sprintf("%s: %s", tool, invalidReason(ie.Path, ie.Reason))
	case errors.As(err, &de):
		msg = fmt.Sprintf("%s: bad session document: %s", tool, invalidReason(de.Path, de.Reason))
	case errors.As(err, &ne):
		msg = fmt.Sprintf("session_id %q: %s", ne.Name, ne.Reason)
	case errors.As(err, &fb):
		msg = fb.Error()
	case errors.Is(err, sessions.ErrUnauthenticated), errors.Is(err, sessions.ErrNoAuthorizer):
		msg = err.Error()
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		msg = fmt.Sprintf("%s: the Kubernetes API refused the session: %s", tool, err.Error())
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("%s: the request was cancelled or timed out; retry", tool)
	default:
		log.FromContext(ctx).Error(err, "tool failed", "tool", tool)
		return userErrorf("%s failed on the server side (%s); retry later, or tell an operator if it persists", tool, internalSummary(err)), true
	}
	return &userError{msg: msg, cause: err}, false
}

// requestFailure is the JSON-RPC error a refused request other than a
// tool call answers with (resources/read, prompts/get,
// completion/complete): -32602 (invalid params) with classify's wording
// when the caller asked for something it cannot have (a forbidden
// namespace, an unknown or malformed session; a forbidden caller reads the
// same answer whether or not the session exists, since access is decided
// before the lookup), -32603 when the server failed. data is the error's
// data member (nil: none).
func requestFailure(ctx context.Context, method string, err error, data json.RawMessage) error {
	msg, internal := classify(ctx, method, err)
	code := int64(jsonrpc.CodeInvalidParams)
	if internal {
		code = jsonrpc.CodeInternalError
	}
	return &jsonrpc.Error{Code: code, Message: msg.Error(), Data: data}
}

// invalidParams is a -32602 error worded for the caller.
func invalidParams(format string, args ...any) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

func invalidReason(path, reason string) string {
	if path == "" {
		return reason
	}
	return path + ": " + reason
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
	case errors.Is(err, store.ErrUnavailable):
		return "the session store's database could not be reached; a write that failed this way may or may not have been applied"
	}
	return "internal error"
}
