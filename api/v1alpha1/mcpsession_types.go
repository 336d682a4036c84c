package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// McpSessionSpec is the desired state of a session. The operator never writes
// it, so a GitOps tool that owns the object never fights the controller.
//
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.terminate) || !oldSelf.terminate || (has(self.terminate) && self.terminate)",message="terminate cannot be unset once true: termination is irreversible"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.owner) || size(oldSelf.owner) == 0 || (has(self.owner) && self.owner == oldSelf.owner)",message="owner is immutable once set"
// +kubebuilder:validation:XValidation:rule="!has(self.idleTimeout) || !has(self.ttl) || duration(self.ttl) >= duration(self.idleTimeout)",message="ttl must be greater than or equal to idleTimeout"
type McpSessionSpec struct {
	// project is the project or topic the session belongs to.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Project string `json:"project,omitempty"`

	// description says what the session is for.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Description string `json:"description,omitempty"`

	// owner is the identity that created the session (for sessions created
	// through MCP, the authenticated user). Immutable once set.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Owner string `json:"owner,omitempty"`

	// attributes are free-form metadata about the session. Use labels for
	// anything a policy should select on.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Attributes map[string]string `json:"attributes,omitempty"`

	// suspend set to true suspends the session; set back to false, it resumes
	// it (unless it is idle past its idleTimeout, which suspends it again).
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// terminate set to true terminates the session for good. It cannot be
	// unset; a terminated session is read-only until retention deletes it.
	// +optional
	Terminate bool `json:"terminate,omitempty"`

	Timing `json:",inline"`

	// limits bounds what the session may store.
	// +optional
	Limits *SessionLimits `json:"limits,omitempty"`
}

// Phase is the observed lifecycle phase of a session.
// +kubebuilder:validation:Enum=Active;Suspended;Terminated
type Phase string

const (
	// PhaseActive sessions may be read and written.
	PhaseActive Phase = "Active"
	// PhaseSuspended sessions may be read; writes fail until resumed.
	PhaseSuspended Phase = "Suspended"
	// PhaseTerminated sessions are read-only for good.
	PhaseTerminated Phase = "Terminated"
)

// SessionCounts summarises what the store holds for a session. Only counts
// live in etcd; the data itself stays on the volume.
type SessionCounts struct {
	// contextItems is the number of context entries.
	// +optional
	ContextItems int64 `json:"contextItems"`
	// messages is the number of messages in the conversation history.
	// +optional
	Messages int64 `json:"messages"`
	// discoveries is the number of recorded discoveries.
	// +optional
	Discoveries int64 `json:"discoveries"`
	// storedBytes is the approximate size of the session's data on the volume.
	// +optional
	StoredBytes int64 `json:"storedBytes"`
}

// EffectiveSettings are the timing and limits in force for a session after
// resolving its spec, the winning policy and the operator's defaults.
type EffectiveSettings struct {
	Timing `json:",inline"`

	// limits in force; unset means unlimited.
	// +optional
	Limits SessionLimits `json:"limits,omitempty"`

	// policy is the highest-priority McpSessionPolicy selecting the session,
	// if any; it supplies the settings spec leaves unset and the owner quota.
	// +optional
	Policy string `json:"policy,omitempty"`

	// maxSessionsPerOwner is the winning policy's owner quota, if it has one.
	// +optional
	MaxSessionsPerOwner *OwnerQuota `json:"maxSessionsPerOwner,omitempty"`

	// sources says where each setting came from, for example
	// "idleTimeout=spec,ttl=policy,retention=default".
	// +optional
	Sources string `json:"sources,omitempty"`
}

// McpSessionStatus is the observed state of a session.
type McpSessionStatus struct {
	// phase is the lifecycle phase: Active, Suspended or Terminated.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// conditions are Ready, Suspended and Terminated.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastActivityTime is when a client last read or wrote the session, as
	// recorded by the MCP server (coarsely, to spare etcd).
	// +optional
	LastActivityTime *metav1.Time `json:"lastActivityTime,omitempty"`

	// suspendedAt is when the session was last suspended.
	// +optional
	SuspendedAt *metav1.Time `json:"suspendedAt,omitempty"`

	// resumedAt is when the session was last resumed.
	// +optional
	ResumedAt *metav1.Time `json:"resumedAt,omitempty"`

	// terminatedAt is when the session was terminated.
	// +optional
	TerminatedAt *metav1.Time `json:"terminatedAt,omitempty"`

	// expiresAt is the next deadline that ends the session: the TTL expiry
	// while it lives, the deletion time once it is terminated.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// counts summarises the stored data.
	// +optional
	Counts SessionCounts `json:"counts,omitempty"`

	// effective are the settings in force and where they came from.
	// +optional
	Effective *EffectiveSettings `json:"effective,omitempty"`
}

// McpSession is a persistent, resumable AI conversation session. Its context,
// history and discoveries live in the operator's store on a volume; the object
// holds identity, desired state and a small status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mcps,categories=mcp
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.spec.project`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="Messages",type=integer,JSONPath=`.status.counts.messages`
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.status.counts.storedBytes`,description="Bytes stored on the volume"
// +kubebuilder:printcolumn:name="Last-Activity",type=date,JSONPath=`.status.lastActivityTime`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`,description="TTL expiry, or deletion time once terminated"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type McpSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec McpSessionSpec `json:"spec,omitempty"`
	// +optional
	Status McpSessionStatus `json:"status,omitempty"`
}

// McpSessionList is a list of McpSession.
//
// +kubebuilder:object:root=true
type McpSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []McpSession `json:"items"`
}

func init() {
	SchemeBuilder.Register(&McpSession{}, &McpSessionList{})
}
