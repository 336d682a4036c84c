package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Timing holds the durations that drive a session's lifecycle. It is shared by
// McpSession (per-session overrides) and McpSessionPolicy (defaults for the
// sessions a policy selects), and inlined so the fields sit at the top of spec.
type Timing struct {
	// idleTimeout suspends the session when no activity has been recorded for
	// this long. A Go duration such as 30m or 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="idleTimeout must be a positive duration such as 30s, 15m or 24h"
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`

	// ttl terminates the session (reason Expired) when no activity has been
	// recorded for this long. Must not be shorter than idleTimeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="ttl must be a positive duration such as 30s, 15m or 168h"
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// retention keeps a terminated session readable for this long before the
	// object and its stored data are deleted.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="retention must be a positive duration such as 30s, 15m or 720h"
	Retention *metav1.Duration `json:"retention,omitempty"`
}

// SessionLimits bounds what one session may store. Unset fields fall back to
// the matching policy, then to the operator's defaults.
type SessionLimits struct {
	// maxContextBytes bounds the total size of the session's context values.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxContextBytes *int64 `json:"maxContextBytes,omitempty"`

	// maxMessages bounds the number of messages in the conversation history.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxMessages *int64 `json:"maxMessages,omitempty"`

	// maxValueBytes bounds the size of one context value, message or discovery.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxValueBytes *int64 `json:"maxValueBytes,omitempty"`
}
