package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// QuotaAction is what happens when an owner exceeds maxSessionsPerOwner.
// +kubebuilder:validation:Enum=Reject;TerminateOldest
type QuotaAction string

const (
	// QuotaReject keeps the sessions an owner already has and refuses new
	// ones past the limit: create_session and import_session answer with an
	// error and create nothing. A session that gets past that check (created
	// with kubectl or a GitOps tool, which the operator only sees once the
	// apiserver has stored it, or two MCP creates racing) is terminated by
	// the controller as the newest over-quota session (reason QuotaExceeded).
	QuotaReject QuotaAction = "Reject"
	// QuotaTerminateOldest lets the new session live and terminates the
	// owner's least recently active sessions (reason QuotaExceeded).
	QuotaTerminateOldest QuotaAction = "TerminateOldest"
)

// OwnerQuota limits how many live (not terminated) sessions one owner may
// hold among the sessions a policy selects.
type OwnerQuota struct {
	// limit is the most live sessions one owner may have.
	// +kubebuilder:validation:Minimum=1
	Limit int32 `json:"limit"`

	// action taken when an owner goes over the limit.
	// +optional
	// +kubebuilder:default=Reject
	Action QuotaAction `json:"action,omitempty"`
}

// McpSessionPolicySpec holds retention and quota rules for the sessions it
// selects. Meant to live in git and be applied by GitOps tools.
//
// +kubebuilder:validation:XValidation:rule="!has(self.idleTimeout) || !has(self.ttl) || duration(self.ttl) >= duration(self.idleTimeout)",message="ttl must be greater than or equal to idleTimeout"
type McpSessionPolicySpec struct {
	// selector picks the McpSessions in this namespace the policy applies to.
	// An empty selector selects every session in the namespace.
	// +optional
	Selector metav1.LabelSelector `json:"selector,omitempty"`

	// priority decides between several matching policies: the highest wins,
	// ties go to the policy whose name sorts first.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=-1000
	// +kubebuilder:validation:Maximum=1000
	Priority int32 `json:"priority,omitempty"`

	Timing `json:",inline"`

	// limits for the sessions the policy selects.
	// +optional
	Limits *SessionLimits `json:"limits,omitempty"`

	// maxSessionsPerOwner limits live sessions per owner.
	// +optional
	MaxSessionsPerOwner *OwnerQuota `json:"maxSessionsPerOwner,omitempty"`
}

// McpSessionPolicyStatus is the observed state of a policy.
type McpSessionPolicyStatus struct {
	// matchedSessions is how many sessions the selector matches.
	// +optional
	MatchedSessions int32 `json:"matchedSessions"`

	// conditions: Ready tells whether the policy is valid and applied.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the spec generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// McpSessionPolicy sets idle timeout, TTL, retention, limits and per-owner
// quotas for the McpSessions its selector matches.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mcpsp,categories=mcp
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Idle-Timeout",type=string,JSONPath=`.spec.idleTimeout`
// +kubebuilder:printcolumn:name="TTL",type=string,JSONPath=`.spec.ttl`
// +kubebuilder:printcolumn:name="Retention",type=string,JSONPath=`.spec.retention`
// +kubebuilder:printcolumn:name="Matched",type=integer,JSONPath=`.status.matchedSessions`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type McpSessionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec McpSessionPolicySpec `json:"spec,omitempty"`
	// +optional
	Status McpSessionPolicyStatus `json:"status,omitempty"`
}

// McpSessionPolicyList is a list of McpSessionPolicy.
//
// +kubebuilder:object:root=true
type McpSessionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []McpSessionPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&McpSessionPolicy{}, &McpSessionPolicyList{})
}
