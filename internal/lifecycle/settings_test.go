package lifecycle

import (
	"github.com/google/go-cmp/cmp"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

func policy(name string, priority int32, sel metav1.LabelSelector) v1alpha1.McpSessionPolicy {
	return v1alpha1.McpSessionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.McpSessionPolicySpec{Selector: sel, Priority: priority},
	}
}

func match(kv ...string) metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return metav1.LabelSelector{MatchLabels: m}
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestSelectPolicy(t *testing.T) {
	deleting := policy("a-deleting", 100, metav1.LabelSelector{})
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	invalid := policy("a-invalid", 100, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}})

	tests := []struct {
		name     string
		labels   map[string]string
		policies []v1alpha1.McpSessionPolicy
		want     string // "" for none
	}{
		{name: "no policies", labels: map[string]string{"team": "a"}},
		{name: "selector does not match", labels: map[string]string{"team": "a"},
			policies: []v1alpha1.McpSessionPolicy{policy("p", 0, match("team", "b"))}},
		{name: "selector matches", labels: map[string]string{"team": "a"},
			policies: []v1alpha1.McpSessionPolicy{policy("p", 0, match("team", "a"))}, want: "p"},
		{name: "empty selector matches every session", labels: nil,
			policies: []v1alpha1.McpSessionPolicy{policy("all", 0, metav1.LabelSelector{})}, want: "all"},
		{name: "highest priority wins", labels: map[string]string{"team": "a"},
			policies: []v1alpha1.McpSessionPolicy{
				policy("low", 1, metav1.LabelSelector{}),
				policy("high", 5, match("team", "a")),
				policy("mid", 3, metav1.LabelSelector{}),
			}, want: "high"},
		{name: "negative priority loses to default priority", labels: nil,
			policies: []v1alpha1.McpSessionPolicy{policy("neg", -1, metav1.LabelSelector{}), policy("zero", 0, metav1.LabelSelector{})},
			want:     "zero"},
		{name: "tie goes to the name sorting first", labels: nil,
			policies: []v1alpha1.McpSessionPolicy{policy("b", 2, metav1.LabelSelector{}), policy("a", 2, metav1.LabelSelector{}), policy("c", 2, metav1.LabelSelector{})},
			want:     "a"},
		{name: "higher priority beats a better name", labels: nil,
			policies: []v1alpha1.McpSessionPolicy{policy("a", 1, metav1.LabelSelector{}), policy("z", 2, metav1.LabelSelector{})},
			want:     "z"},
		{name: "non-matching high priority is ignored", labels: map[string]string{"team": "a"},
			policies: []v1alpha1.McpSessionPolicy{policy("other", 9, match("team", "b")), policy("mine", 0, match("team", "a"))},
			want:     "mine"},
		{name: "invalid selector matches nothing", labels: nil,
			policies: []v1alpha1.McpSessionPolicy{invalid, policy("b", 0, metav1.LabelSelector{})}, want: "b"},
		{name: "policy being deleted matches nothing", labels: nil,
			policies: []v1alpha1.McpSessionPolicy{deleting, policy("b", 0, metav1.LabelSelector{})}, want: "b"},
		{name: "match expression", labels: map[string]string{"env": "dev"},
			policies: []v1alpha1.McpSessionPolicy{policy("exists", 0, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"dev", "test"}}}})},
			want: "exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SelectPolicy(tt.labels, tt.policies)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tt.want {
				t.Fatalf("SelectPolicy = %q, want %q", name, tt.want)
			}
		})
	}
}

func TestPolicySelectsInvalid(t *testing.T) {
	p := policy("bad", 0, metav1.LabelSelector{MatchLabels: map[string]string{"k": "not a valid value!"}})
	if ok, err := PolicySelects(&p, map[string]string{"k": "v"}); err == nil || ok {
		t.Fatalf("PolicySelects = %v, %v; want false and an error", ok, err)
	}
}

func TestResolve(t *testing.T) {
	defaults := Defaults{
		IdleTimeout: 30 * time.Minute, TTL: 24 * time.Hour, Retention: time.Hour,
		Limits: v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](1000)},
	}
	withTiming := func(p v1alpha1.McpSessionPolicy, idle, ttl, ret *metav1.Duration) *v1alpha1.McpSessionPolicy {
		p.Spec.Timing = v1alpha1.Timing{IdleTimeout: idle, TTL: ttl, Retention: ret}
		return &p
	}
	quota := &v1alpha1.OwnerQuota{Limit: 3, Action: v1alpha1.QuotaTerminateOldest}
	quotaPolicy := withTiming(policy("q", 0, metav1.LabelSelector{}), nil, nil, nil)
	quotaPolicy.Spec.MaxSessionsPerOwner = quota
	limitPolicy := withTiming(policy("lim", 0, metav1.LabelSelector{}), nil, nil, nil)
	limitPolicy.Spec.Limits = &v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](50), MaxValueBytes: ptr.To[int64](10)}

	tests := []struct {
		name     string
		spec     v1alpha1.McpSessionSpec
		policy   *v1alpha1.McpSessionPolicy
		defaults Defaults
		want     Settings
	}{
		{
			name: "defaults only", defaults: defaults,
			want: Settings{IdleTimeout: 30 * time.Minute, TTL: 24 * time.Hour, Retention: time.Hour,
				Limits:  v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](1000)},
				Sources: "idleTimeout=default,ttl=default,retention=default,maxMessages=default"},
		},
		{
			name: "spec beats policy beats default, field by field", defaults: defaults,
			spec:   v1alpha1.McpSessionSpec{Timing: v1alpha1.Timing{IdleTimeout: dur(5 * time.Minute)}},
			policy: withTiming(policy("team", 0, metav1.LabelSelector{}), dur(10*time.Minute), dur(48*time.Hour), nil),
			want: Settings{IdleTimeout: 5 * time.Minute, TTL: 48 * time.Hour, Retention: time.Hour,
				Limits: v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](1000)}, Policy: "team",
				Sources: "idleTimeout=spec,ttl=policy,retention=default,maxMessages=default"},
		},
		{
			name: "spec sets everything: policy still named as the winner", defaults: defaults,
			spec: v1alpha1.McpSessionSpec{
				Timing: v1alpha1.Timing{IdleTimeout: dur(time.Minute), TTL: dur(time.Hour), Retention: dur(2 * time.Hour)},
				Limits: &v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](7)},
			},
			policy: withTiming(policy("team", 0, metav1.LabelSelector{}), dur(10*time.Minute), dur(48*time.Hour), dur(3*time.Hour)),
			want: Settings{IdleTimeout: time.Minute, TTL: time.Hour, Retention: 2 * time.Hour,
				Limits: v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](7)}, Policy: "team",
				Sources: "idleTimeout=spec,ttl=spec,retention=spec,maxMessages=spec"},
		},
		{
			name: "limits resolve per field", defaults: defaults,
			spec:   v1alpha1.McpSessionSpec{Limits: &v1alpha1.SessionLimits{MaxContextBytes: ptr.To[int64](99)}},
			policy: limitPolicy,
			want: Settings{IdleTimeout: 30 * time.Minute, TTL: 24 * time.Hour, Retention: time.Hour,
				Limits: v1alpha1.SessionLimits{MaxContextBytes: ptr.To[int64](99), MaxMessages: ptr.To[int64](50), MaxValueBytes: ptr.To[int64](10)},
				Policy: "lim",
				Sources: "idleTimeout=default,ttl=default,retention=default," +
					"maxContextBytes=spec,maxMessages=policy,maxValueBytes=policy"},
		},
		{
			name: "zero defaults mean no deadline and no limit",
			want: Settings{Sources: "idleTimeout=default,ttl=default,retention=default"},
		},
		{
			name: "negative default is treated as no deadline", defaults: Defaults{IdleTimeout: -time.Minute},
			want: Settings{Sources: "idleTimeout=default,ttl=default,retention=default"},
		},
		{
			name: "quota comes from the winning policy", policy: quotaPolicy,
			want: Settings{Policy: "q", Quota: quota, Sources: "idleTimeout=default,ttl=default,retention=default"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(tt.spec, tt.policy, tt.defaults)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveDoesNotAlias(t *testing.T) {
	spec := v1alpha1.McpSessionSpec{Limits: &v1alpha1.SessionLimits{MaxMessages: ptr.To[int64](5)}}
	got := Resolve(spec, nil, Defaults{})
	*got.Limits.MaxMessages = 6
	if *spec.Limits.MaxMessages != 5 {
		t.Fatal("Resolve returned a pointer into the spec")
	}
}

func TestDefaultDefaults(t *testing.T) {
	d := DefaultDefaults()
	if d.IdleTimeout <= 0 || d.TTL < d.IdleTimeout || d.Retention <= 0 {
		t.Fatalf("defaults out of order: %+v", d)
	}
	if d.Limits.MaxValueBytes == nil || d.Limits.MaxContextBytes == nil || *d.Limits.MaxValueBytes > *d.Limits.MaxContextBytes {
		t.Fatalf("default limits out of order: %+v", d.Limits)
	}
}
