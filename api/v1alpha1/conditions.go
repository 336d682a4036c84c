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

// Annotations and finalizers of this API.
const (
	// StoreFinalizer makes deletion wait until the session's stored data is erased.
	StoreFinalizer = "sessions.mcp.dev/store-cleanup"

	// TerminationReasonAnnotation records why the operator terminated a session
	// that spec did not ask to terminate (Expired, QuotaExceeded), so the
	// decision survives status loss. Set by the controller on status only.
	TerminationReasonAnnotation = "sessions.mcp.dev/termination-reason"
)
