package sessions

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
)

// The local registry records the status the controller would write for
// the same decision (lifecycle.ApplyDecision): all three conditions with
// their transition times, the timestamps and the effective settings.
func TestLocalRegistryRecordsTheControllersStatus(t *testing.T) {
	ctx := context.Background()
	clk, st := openStore(t)
	defaults := lifecycle.Defaults{IdleTimeout: time.Hour, TTL: 24 * time.Hour, Retention: time.Hour}
	r := &localRegistry{st: st, clock: clk, defaults: defaults, activity: func(types.NamespacedName) time.Time { return time.Time{} }}

	// want compares the recorded status of a new session with what the
	// controller writes for it at its first reconcile.
	want := func(rec *localRecord) {
		t.Helper()
		obj := rec.object()
		obj.Status = v1alpha1.McpSessionStatus{}
		set := lifecycle.SettingsFor(obj.Labels, obj.Spec, nil, defaults)
		d := lifecycle.Decide(clk.Now(), obj, set, false)
		lifecycle.ApplyDecision(obj, d, set, clk.Now())
		if diff := cmp.Diff(obj.Status, rec.Status); diff != "" {
			t.Errorf("recorded status (-ApplyDecision +local registry):\n%s", diff)
		}
	}

	if _, err := r.Create(ctx, CreateSpec{Namespace: "default", Name: "s", Owner: "me"}); err != nil {
		t.Fatal(err)
	}
	rec := stored(t, r, "default", "s")
	ready := meta.FindStatusCondition(rec.Status.Conditions, v1alpha1.ConditionReady)
	if ready == nil || ready.Status != "True" || !ready.LastTransitionTime.Time.Equal(clk.Now()) {
		t.Fatalf("Ready condition = %+v, want True since %v", ready, clk.Now())
	}
	want(rec)

	clk.Step(10 * time.Minute)
	if _, err := r.SetSuspend(ctx, "default", "s", true); err != nil {
		t.Fatal(err)
	}
	rec = stored(t, r, "default", "s")
	ready = meta.FindStatusCondition(rec.Status.Conditions, v1alpha1.ConditionReady)
	if rec.Status.Phase != v1alpha1.PhaseSuspended || ready.Status != "False" || ready.Reason != v1alpha1.ReasonRequested ||
		!ready.LastTransitionTime.Time.Equal(clk.Now()) {
		t.Errorf("after suspend: status.phase %s, Ready %+v; want Suspended, Ready False (Requested) since %v", rec.Status.Phase, ready, clk.Now())
	}
	if rec.Status.SuspendedAt == nil || !rec.Status.SuspendedAt.Time.Equal(clk.Now()) {
		t.Errorf("status.suspendedAt = %v, want %v", rec.Status.SuspendedAt, clk.Now())
	}
}

// stored reads a session's record as the store holds it, not as the
// registry keeps it in memory.
func stored(t *testing.T, r *localRegistry, namespace, name string) *localRecord {
	t.Helper()
	e, err := r.st.GetContext(context.Background(), localRegistryUID, namespace+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	rec := &localRecord{}
	if err := json.Unmarshal(e.Value, rec); err != nil {
		t.Fatal(err)
	}
	return rec
}
