package lifecycle

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
)

func member(name string, created, active time.Duration) QuotaMember {
	m := QuotaMember{Name: name, Created: at(created)}
	if active >= 0 {
		m.LastActivity = at(active)
	}
	return m
}

const noActivity = -1

func TestOverQuota(t *testing.T) {
	reject := func(n int32) v1alpha1.OwnerQuota { return v1alpha1.OwnerQuota{Limit: n, Action: v1alpha1.QuotaReject} }
	oldest := func(n int32) v1alpha1.OwnerQuota {
		return v1alpha1.OwnerQuota{Limit: n, Action: v1alpha1.QuotaTerminateOldest}
	}
	three := []QuotaMember{
		member("a", 0, 10*time.Minute),         // oldest, recently active
		member("b", time.Minute, noActivity),   // middle, never active: least recently active
		member("c", 2*time.Minute, noActivity), // newest
	}

	tests := []struct {
		name    string
		members []QuotaMember
		quota   v1alpha1.OwnerQuota
		want    []string
	}{
		{name: "under the limit", members: three[:1], quota: reject(2)},
		{name: "at the limit", members: three[:2], quota: reject(2)},
		{name: "no members", quota: reject(1)},
		{name: "reject terminates the newest", members: three, quota: reject(2), want: []string{"c"}},
		{name: "reject terminates every newest one above the limit", members: three, quota: reject(1), want: []string{"b", "c"}},
		{name: "reject ignores activity", members: []QuotaMember{
			member("old", 0, noActivity), member("new", time.Minute, time.Hour)}, quota: reject(1), want: []string{"new"}},
		{name: "empty action means Reject", members: three, quota: v1alpha1.OwnerQuota{Limit: 2}, want: []string{"c"}},
		{name: "reject: same creation second, the name sorting last is the newest", members: []QuotaMember{
			member("s2", 0, noActivity), member("s10", 0, noActivity), member("s1", 0, noActivity)}, quota: reject(2),
			want: []string{"s2"}},
		{name: "terminate oldest: least recently active goes", members: three, quota: oldest(2), want: []string{"b"}},
		{name: "terminate oldest: back at the limit", members: three, quota: oldest(1), want: []string{"b", "c"}},
		{name: "terminate oldest: creation counts when no activity", members: []QuotaMember{
			member("x", 0, noActivity), member("y", time.Minute, noActivity)}, quota: oldest(1), want: []string{"x"}},
		{name: "terminate oldest: activity tie goes to the older creation", members: []QuotaMember{
			member("x", time.Minute, time.Hour), member("y", 0, time.Hour)}, quota: oldest(1), want: []string{"y"}},
		{name: "terminate oldest: full tie goes by name, first name counts older", members: []QuotaMember{
			member("b", 0, time.Hour), member("a", 0, time.Hour)}, quota: oldest(1), want: []string{"a"}},
		{name: "invalid limit terminates nothing", members: three, quota: reject(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.members)
			got := OverQuota(tt.members, tt.quota)
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("OverQuota = %v, want %v", got, want)
			}
			if !slices.Equal(in, tt.members) {
				t.Fatal("OverQuota reordered its input")
			}
		})
	}
}

// Every member must reach the same verdict whatever order the cache lists
// them in, since each session decides for itself.
func TestOverQuotaOrderIndependent(t *testing.T) {
	ms := []QuotaMember{
		member("a", 0, noActivity), member("b", 0, noActivity), member("c", time.Minute, 5*time.Minute),
		member("d", 2*time.Minute, noActivity), member("e", 2*time.Minute, time.Minute),
	}
	for _, action := range []v1alpha1.QuotaAction{v1alpha1.QuotaReject, v1alpha1.QuotaTerminateOldest} {
		q := v1alpha1.OwnerQuota{Limit: 2, Action: action}
		want := OverQuota(ms, q)
		slices.Sort(want)
		perm := slices.Clone(ms)
		for i := 0; i < 20; i++ {
			// rotate and reverse to visit several orders deterministically
			perm = append(perm[1:], perm[0])
			if i%3 == 0 {
				slices.Reverse(perm)
			}
			got := OverQuota(perm, q)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: order %v gave %v, want %v", action, names(perm), got, want)
			}
		}
	}
}

func names(ms []QuotaMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func TestRefusedByQuota(t *testing.T) {
	peers := []QuotaMember{member("a", 0, time.Hour), member("b", time.Minute, noActivity)}
	tests := []struct {
		name  string
		peers []QuotaMember
		quota v1alpha1.OwnerQuota
		want  bool
	}{
		{"room left", peers, v1alpha1.OwnerQuota{Limit: 3}, false},
		{"at the limit, Reject refuses", peers, v1alpha1.OwnerQuota{Limit: 2, Action: v1alpha1.QuotaReject}, true},
		{"at the limit, empty action is Reject", peers, v1alpha1.OwnerQuota{Limit: 2}, true},
		{"at the limit, TerminateOldest lets it in", peers, v1alpha1.OwnerQuota{Limit: 2, Action: v1alpha1.QuotaTerminateOldest}, false},
		{"no peers", nil, v1alpha1.OwnerQuota{Limit: 1}, false},
	}
	for _, tt := range tests {
		if got := RefusedByQuota(tt.peers, "a-newcomer", tt.quota); got != tt.want {
			t.Errorf("%s: RefusedByQuota = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// QuotaPeers counts the owner's other live sessions that the same policy
// wins for, as the controller and the MCP server's create check both do.
func TestQuotaPeers(t *testing.T) {
	quota := policy("quota", 1, match("tier", "free"))
	other := policy("other", 0, metav1.LabelSelector{})
	policies := []v1alpha1.McpSessionPolicy{quota, other}
	mk := func(name, owner string, mods ...func(*v1alpha1.McpSession)) v1alpha1.McpSession {
		s := session(mods...)
		s.Name, s.UID, s.Spec.Owner = name, types.UID("uid-"+name), owner
		s.Labels = map[string]string{"tier": "free"}
		return *s
	}
	deleting := func(s *v1alpha1.McpSession) { s.DeletionTimestamp = &metav1.Time{Time: t0} }
	paid := func(s *v1alpha1.McpSession) {}
	sessions := []v1alpha1.McpSession{
		mk("self", "ann"),
		mk("live", "ann"),
		mk("someone-else", "bob"),
		mk("terminated", "ann", specTerminate),
		mk("deleting", "ann", deleting),
		mk("other-policy", "ann", paid),
	}
	sessions[5].Labels = map[string]string{"tier": "paid"}
	got := names(QuotaPeers(at(time.Minute), "ann", "quota", "uid-self", sessions, policies, Defaults{}))
	if !slices.Equal(got, []string{"live"}) {
		t.Fatalf("QuotaPeers = %v, want [live]: only the owner's other live sessions under the same policy", got)
	}
}
