package controllers

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	m.Annotations = internMap(ownAnnotations(m.Annotations))
	m.Namespace = intern(m.Namespace)
	m.Labels = labelSets.share(m.Labels)
	for i := range m.Finalizers {
		m.Finalizers[i] = intern(m.Finalizers[i])
	}
	s.APIVersion, s.Kind = intern(s.APIVersion), intern(s.Kind)
	s.Spec.Project, s.Spec.Owner = intern(s.Spec.Project), intern(s.Spec.Owner)
	st := &s.Status
	st.Phase = v1alpha1.Phase(intern(string(st.Phase)))
	// The JSON decoder grows slices by doubling: three conditions sit in
	// room for four (96 bytes a session wasted, 10 MB at 100,000).
	if n := len(st.Conditions); n > 0 && cap(st.Conditions) > n {
		st.Conditions = slices.Clone(st.Conditions)
	}
	for i := range st.Conditions {
		internCondition(&st.Conditions[i])
	}
	if e := st.Effective; e != nil {
		e.Policy, e.Sources = intern(e.Policy), intern(e.Sources)
		st.Effective = effectiveSets.share(e)
	}
	return s, nil
}

// Whole label sets and effective settings are shared too: a namespace's
// sessions carry a few distinct ones, each a map or a struct of pointers
// that would otherwise cost a few hundred bytes per session. Cached
// objects are never modified (every reader gets a deep copy, or promises
// to only read), so sharing is safe. Each table is bounded: when it is
// full it starts again, so sessions with a label unique to each of them
// cost a wasted lookup, not memory.
var (
	labelSets     = newShared(labelSetKey)
	effectiveSets = newShared(effectiveKey)
)

// sharedMax is how many distinct values a shared table holds.
const sharedMax = 4096

// shared hands out one copy of each distinct value, by key; a value whose
// key is "" (nil, empty) is not shared.
type shared[T any] struct {
	key func(T) string
	mu  sync.Mutex
	m   map[string]T
}

func newShared[T any](key func(T) string) *shared[T] {
	return &shared[T]{key: key, m: map[string]T{}}
}

// share returns the copy of v already handed out, else keeps v as it.
func (s *shared[T]) share(v T) T {
	k := s.key(v)
	if k == "" {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have, ok := s.m[k]; ok {
		return have
	}
	if len(s.m) >= sharedMax {
		clear(s.m)
	}
	s.m[k] = v
	return v
}

// labelSetKey identifies a label set by its content.
func labelSetKey(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

// effectiveKey identifies effective settings by their content.
func effectiveKey(e *v1alpha1.EffectiveSettings) string {
	if e == nil {
		return ""
	}
	b := make([]byte, 0, 128)
	for _, d := range []*metav1.Duration{e.IdleTimeout, e.TTL, e.Retention} {
		b = append(b, '|')
		if d != nil {
			b = strconv.AppendInt(b, int64(d.Duration), 10)
		}
	}
	for _, l := range []*int64{e.Limits.MaxContextBytes, e.Limits.MaxMessages, e.Limits.MaxValueBytes} {
		b = append(b, '|')
		if l != nil {
			b = strconv.AppendInt(b, *l, 10)
		}
	}
	b = append(b, '|')
	if q := e.MaxSessionsPerOwner; q != nil {
		b = strconv.AppendInt(b, int64(q.Limit), 10)
		b = append(b, ':')
		b = append(b, q.Action...)
	}
	b = append(b, '|')
	b = append(b, e.Policy...)
	b = append(b, '|')
	b = append(b, e.Sources...)
	return string(b)
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
	for k, v := range m {
		out[intern(k)] = intern(v)
	}
	return out
}
