// Package v1alpha1 contains the API of the sessions.mcp.dev group: McpSession,
// a persistent AI conversation session, and McpSessionPolicy, the retention and
// quota rules that select sessions by label.
//
// +kubebuilder:object:generate=true
// +groupName=sessions.mcp.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "sessions.mcp.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this API with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
