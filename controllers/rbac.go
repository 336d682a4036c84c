// Package controllers holds the McpSession and McpSessionPolicy reconcilers.
// The RBAC markers for the whole manager live here, so `make manifests` writes
// one least-privilege role from one place.
package controllers

// The reconcilers read sessions and policies, write status and finalizers, and
// delete sessions whose retention ran out.
// +kubebuilder:rbac:groups=sessions.mcp.dev,resources=mcpsessions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=sessions.mcp.dev,resources=mcpsessions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sessions.mcp.dev,resources=mcpsessions/finalizers,verbs=update
// +kubebuilder:rbac:groups=sessions.mcp.dev,resources=mcpsessionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=sessions.mcp.dev,resources=mcpsessionpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// The MCP server authenticates bearer tokens and authorises each tool call.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
