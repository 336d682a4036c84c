package v1alpha1

// Condition types on McpSession.
const (
	// ConditionReady is True while the session accepts writes (Active).
	ConditionReady = "Ready"
	// ConditionSuspended is True while the session is suspended.
	ConditionSuspended = "Suspended"
	// ConditionTerminated is True once the session is terminated.
	ConditionTerminated = "Terminated"
)

// Condition reasons on McpSession, also used as event reasons.
const (
	// ReasonActive: the session is active.
	ReasonActive = "Active"
	// ReasonIdle: no activity for idleTimeout.
	ReasonIdle = "Idle"
	// ReasonRequested: spec.suspend or spec.terminate asked for it.
	ReasonRequested = "Requested"
	// ReasonExpired: no activity for ttl.
	ReasonExpired = "Expired"
	// ReasonQuotaExceeded: the owner went over a policy's maxSessionsPerOwner.
	ReasonQuotaExceeded = "QuotaExceeded"
	// ReasonResumed: a suspended session became active again.
	ReasonResumed = "Resumed"
	// ReasonNotSuspended and ReasonNotTerminated fill the False conditions.
	ReasonNotSuspended  = "NotSuspended"
	ReasonNotTerminated = "NotTerminated"
)

// Condition reasons on McpSessionPolicy's Ready condition.
const (
	// ReasonValid: the selector parses; the policy applies to the sessions
	// it selects.
	ReasonValid = "Valid"
	// ReasonInvalidSelector: the selector does not parse; the policy selects
	// nothing until it is fixed.
	ReasonInvalidSelector = "InvalidSelector"
)

// Annotations and finalizers of this API.
const (
	// StoreFinalizer makes deletion wait until the session's stored data is erased.
	StoreFinalizer = "sessions.mcp.dev/store-cleanup"

	// TerminationReasonAnnotation records why the operator terminated a session
	// that spec did not ask to terminate (Expired, QuotaExceeded), so the
	// decision survives the loss of status (a backup restored without it).
	// Set by the controller with a metadata patch; never set it by hand.
	TerminationReasonAnnotation = "sessions.mcp.dev/termination-reason"
)
