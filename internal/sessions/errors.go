package sessions

import (
	"errors"
	"fmt"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Sentinels the typed errors below match with errors.Is, for callers that
// only need the kind of failure.
var (
	// ErrNotFound: no session of that name in that namespace.
	ErrNotFound = errors.New("session not found")
	// ErrExists: a create found a session of that name already.
	ErrExists = errors.New("session already exists")
	// ErrUnauthenticated: a request reached the sessions without a caller
	// identity; it is refused rather than served as anyone.
	ErrUnauthenticated = errors.New("unauthenticated: no caller identity on this request")
	// ErrNoAuthorizer: a restricted identity on a server that has no
	// authorizer to ask.
	ErrNoAuthorizer = errors.New("forbidden: this server has no authorizer configured")
)

// NotFoundError reports a session that does not exist (any more): never
// created, deleted, being deleted, or replaced by a new one of the same
// name.
type NotFoundError struct{ Namespace, Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("session %s/%s not found", e.Namespace, e.Name)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ExistsError reports a create of a session that already exists.
type ExistsError struct{ Namespace, Name string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("session %s/%s already exists", e.Namespace, e.Name)
}

// Is makes errors.Is(err, ErrExists) true.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// PhaseError reports a write to a session that does not accept writes in
// its phase: Suspended (resume it first) or Terminated (for good).
type PhaseError struct {
	Namespace, Name string
	Phase           v1alpha1.Phase
}

func (e *PhaseError) Error() string {
	return fmt.Sprintf("session %s/%s is %s and does not accept writes", e.Namespace, e.Name, e.Phase)
}

// QuotaError reports a create refused up front because the owner's quota
// would terminate the new session at once (action Reject, the owner at its
// limit). Nothing was created.
type QuotaError struct {
	Namespace, Owner, Policy string
	Quota                    v1alpha1.OwnerQuota
	// Live is how many live sessions the owner holds under the policy.
	Live int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("owner %q has %d live sessions under policy %s in namespace %s; its maxSessionsPerOwner is %d (action %s)",
		e.Owner, e.Live, e.Policy, e.Namespace, e.Quota.Limit, e.Quota.Action)
}

// NameError reports a session name the local registry cannot keep.
type NameError struct {
	Namespace, Name string
	Reason          string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("session %s/%s: %s", e.Namespace, e.Name, e.Reason)
}
