package controllers

import (
	"maps"
	"strings"
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// CacheOptions returns the manager cache options these controllers and the
// MCP server are meant to run with: every object without managedFields
// (for objects written by several managers, often the larger half of what
// is cached), and McpSessions trimmed further by TrimSession. Predicates
// would not help: they filter events, not what the informer keeps.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&v1alpha1.McpSession{}: {Transform: TrimSession},
		},
	}
}

// TrimSession is the cache transform of McpSessions: what the informer
// keeps of each session, which with 100,000 sessions is most of the
// manager's memory. It drops what nothing in the manager reads, and shares
// the strings that most sessions repeat.
//
// Dropped: metadata.managedFields, ownerReferences, generateName,
// deletionGracePeriodSeconds, and every annotation outside this API's
// group (kubectl's last-applied-configuration, often as large as the
// object itself). Nothing is lost by it: the manager never updates a
// session whole from the cache (only merge patches of the fields it owns,
// built from the difference between two copies), so the apiserver keeps
// what the cache dropped. Everything the code reads stays: spec, status,
// labels, finalizers, this group's annotations (the termination reason),
// name, namespace, uid, resourceVersion, generation and the creation and
// deletion timestamps; TestTrimSessionKeepsWhatTheManagerReads holds the
// list.
//
// Shared: the namespace, the type's apiVersion and kind, label keys and
// values, finalizers, project, owner, phase, the conditions' type, status,
// reason and message, the effective policy and its sources. These repeat
// across sessions (each condition message is one of a few sentences), and
// decoding gives every object its own copy; unique.Make keeps one.
//
// The transform is idempotent and leaves anything but an *McpSession (a
// tombstone) as it is.
func TrimSession(obj any) (any, error) {
	s, ok := obj.(*v1alpha1.McpSession)
	if !ok {
		return obj, nil
	}
	m := &s.ObjectMeta
	m.ManagedFields, m.OwnerReferences, m.GenerateName, m.DeletionGracePeriodSeconds = nil, nil, "", nil
	m.Annotations = ownAnnotations(m.Annotations)
	m.Namespace = intern(m.Namespace)
	m.Labels = internMap(m.Labels)
	m.Annotations = internMap(m.Annotations)
	for i := range m.Finalizers {
		m.Finalizers[i] = intern(m.Finalizers[i])
	}
	s.APIVersion, s.Kind = intern(s.APIVersion), intern(s.Kind)
	s.Spec.Project, s.Spec.Owner = intern(s.Spec.Project), intern(s.Spec.Owner)
	st := &s.Status
	st.Phase = v1alpha1.Phase(intern(string(st.Phase)))
	for i := range st.Conditions {
		internCondition(&st.Conditions[i])
	}
	if e := st.Effective; e != nil {
		e.Policy, e.Sources = intern(e.Policy), intern(e.Sources)
	}
	return s, nil
}

var _ toolscache.TransformFunc = TrimSession

// ownAnnotations keeps the annotations of this API's group; nil when none.
func ownAnnotations(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if strings.HasPrefix(k, v1alpha1.GroupVersion.Group+"/") {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func internCondition(c *metav1.Condition) {
	c.Type, c.Reason, c.Message = intern(c.Type), intern(c.Reason), intern(c.Message)
	c.Status = metav1.ConditionStatus(intern(string(c.Status)))
}

// intern returns the one shared copy of s.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// internMap returns m with shared keys and values (a new map; nil for
// none).
func internMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range maps.All(m) {
		out[intern(k)] = intern(v)
	}
	return out
}
