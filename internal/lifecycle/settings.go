package lifecycle

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

// Where a setting in force came from, as written to status.effective.sources.
const (
	SourceSpec    = "spec"
	SourcePolicy  = "policy"
	SourceDefault = "default"
)

// Settings are the timing, limits and quota in force for one session once its
// spec, its winning policy and the operator's defaults are resolved.
type Settings struct {
	// IdleTimeout, TTL and Retention are 0 when that deadline does not apply.
	IdleTimeout time.Duration
	TTL         time.Duration
	Retention   time.Duration
	// Limits in force; unset fields mean unlimited.
	Limits v1alpha1.SessionLimits
	// Policy is the name of the winning McpSessionPolicy, "" when none matches.
	Policy string
	// Quota is the winning policy's maxSessionsPerOwner, nil when it has none.
	Quota *v1alpha1.OwnerQuota
	// Sources says where each setting came from, e.g.
	// "idleTimeout=spec,ttl=policy,retention=default".
	Sources string
}

// PolicySelects reports whether policy p selects a session with the given
// labels. An invalid selector selects nothing and is returned as the error.
func PolicySelects(p *v1alpha1.McpSessionPolicy, sessionLabels map[string]string) (bool, error) {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil {
		return false, err
	}
	return sel.Matches(labels.Set(sessionLabels)), nil
}

// SelectPolicy returns the policy that governs a session with the given
// labels, or nil when none selects it.
//
// Precedence: among the policies whose selector matches the session's labels
// (an empty selector matches every session in the namespace), the one with
// the highest spec.priority wins; between equal priorities, the policy whose
// name sorts first (byte-wise) wins. Only the winner applies: settings are
// never merged across several policies, so a session's effective settings
// always name one policy. Policies with an invalid selector and policies
// being deleted match nothing.
func SelectPolicy(sessionLabels map[string]string, policies []v1alpha1.McpSessionPolicy) *v1alpha1.McpSessionPolicy {
	var winner *v1alpha1.McpSessionPolicy
	for i := range policies {
		p := &policies[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		if ok, err := PolicySelects(p, sessionLabels); err != nil || !ok {
			continue
		}
		if winner == nil || p.Spec.Priority > winner.Spec.Priority ||
			(p.Spec.Priority == winner.Spec.Priority && p.Name < winner.Name) {
			winner = p
		}
	}
	return winner
}

// SettingsFor resolves the settings in force for a session with the given
// labels and spec among the policies of its namespace: Resolve with the
// policy SelectPolicy picks. The controller, the MCP server's write paths
// and its quota check on create all call it, so a session created a
// moment ago is held to the same limits the controller will record.
func SettingsFor(sessionLabels map[string]string, spec v1alpha1.McpSessionSpec, policies []v1alpha1.McpSessionPolicy, d Defaults) Settings {
	return Resolve(spec, SelectPolicy(sessionLabels, policies), d)
}

// Resolve computes the settings in force for a session: each field comes from
// the session's spec when set there, else from the winning policy (may be
// nil), else from the operator's defaults. Fields resolve independently, so a
// session may take its idleTimeout from spec and its ttl from a policy.
func Resolve(spec v1alpha1.McpSessionSpec, policy *v1alpha1.McpSessionPolicy, d Defaults) Settings {
	var (
		pt  v1alpha1.Timing
		pl  v1alpha1.SessionLimits
		out Settings
	)
	if policy != nil {
		pt = policy.Spec.Timing
		if policy.Spec.Limits != nil {
			pl = *policy.Spec.Limits
		}
		out.Policy = policy.Name
		out.Quota = policy.Spec.MaxSessionsPerOwner.DeepCopy()
	}
	var sl v1alpha1.SessionLimits
	if spec.Limits != nil {
		sl = *spec.Limits
	}

	// Every MCP call resolves settings, so the sources are written into
	// one buffer rather than joined from a string per setting.
	var sources strings.Builder
	sources.Grow(128)
	source := func(key, from string) {
		if sources.Len() > 0 {
			sources.WriteByte(',')
		}
		sources.WriteString(key)
		sources.WriteByte('=')
		sources.WriteString(from)
	}
	duration := func(key string, s, p *metav1.Duration, def time.Duration) time.Duration {
		switch {
		case s != nil:
			source(key, SourceSpec)
			return s.Duration
		case p != nil:
			source(key, SourcePolicy)
			return p.Duration
		default:
			source(key, SourceDefault)
			return def
		}
	}
	limit := func(key string, s, p, def *int64) *int64 {
		switch {
		case s != nil:
			source(key, SourceSpec)
			return copyInt(s)
		case p != nil:
			source(key, SourcePolicy)
			return copyInt(p)
		case def != nil:
			source(key, SourceDefault)
			return copyInt(def)
		default:
			return nil // unlimited: nothing to explain
		}
	}

	out.IdleTimeout = nonNegative(duration("idleTimeout", spec.IdleTimeout, pt.IdleTimeout, d.IdleTimeout))
	out.TTL = nonNegative(duration("ttl", spec.TTL, pt.TTL, d.TTL))
	out.Retention = nonNegative(duration("retention", spec.Retention, pt.Retention, d.Retention))
	out.Limits.MaxContextBytes = limit("maxContextBytes", sl.MaxContextBytes, pl.MaxContextBytes, d.Limits.MaxContextBytes)
	out.Limits.MaxMessages = limit("maxMessages", sl.MaxMessages, pl.MaxMessages, d.Limits.MaxMessages)
	out.Limits.MaxValueBytes = limit("maxValueBytes", sl.MaxValueBytes, pl.MaxValueBytes, d.Limits.MaxValueBytes)
	out.Sources = sources.String()
	return out
}

// nonNegative treats a negative duration (impossible through the CRD's
// validation, possible from a bad flag) as "no deadline" rather than as a
// deadline in the past that would end every session at once.
func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

func copyInt(v *int64) *int64 {
	c := *v
	return &c
}
