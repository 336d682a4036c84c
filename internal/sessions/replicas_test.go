package sessions

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcp-session-operator/mcp-session-operator/api/v1alpha1"
	"github.com/mcp-session-operator/mcp-session-operator/internal/lifecycle"
	"github.com/mcp-session-operator/mcp-session-operator/internal/testenv"
)

// Replicas writing one session's status at once, each with the activity
// it saw and counts read from the shared store: lastActivityTime ends at
// the latest activity any of them saw, never an earlier one written last;
// the counts end at the freshest any successful write read; a write that
// changes nothing is not made.
func TestStatusFromSeveralReplicas(t *testing.T) {
	testenv.Require(t)
	ctx := context.Background()
	obj := &v1alpha1.McpSession{ObjectMeta: metav1.ObjectMeta{Namespace: "default", GenerateName: "replicas-"}}
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, obj) })
	t0 := time.Date(2025, 9, 2, 10, 0, 0, 0, time.UTC)
	reg := &kubeRegistry{c: k8sClient, reader: k8sClient, clock: testingclock.NewFakeClock(t0),
		defaults: lifecycle.DefaultDefaults(), activity: func(types.NamespacedName) time.Time { return time.Time{} }}

	// The store's count grows with every read, as writes keep arriving.
	var stored atomic.Int64
	const replicas, rounds = 6, 5
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		latest   time.Time
		freshest int64
	)
	errs := make(chan error, replicas*rounds)
	for r := range replicas {
		wg.Go(func() {
			for i := range rounds {
				// Replicas see activity at different times, out of order.
				act := t0.Add(time.Duration((r*7+i*13)%40) * time.Second)
				var read int64
				err := reg.WriteStatus(ctx, obj.Namespace, obj.Name, string(obj.UID), statusUpdate{
					LastActivity: act,
					Counts: func(context.Context) (v1alpha1.SessionCounts, error) {
						read = stored.Add(1)
						return v1alpha1.SessionCounts{Messages: read}, nil
					},
				})
				if err != nil {
					errs <- fmt.Errorf("replica %d: %w", r, err)
					return
				}
				mu.Lock()
				latest, freshest = maxTime(latest, act), max(freshest, read)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := &v1alpha1.McpSession{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	if a := got.Status.LastActivityTime; a == nil || !a.Time.Equal(latest) {
		t.Errorf("lastActivityTime %v, want the latest activity seen, %v", a, latest)
	}
	if got.Status.Counts.Messages != freshest {
		t.Errorf("counts.messages %d, want the freshest count a write read, %d", got.Status.Counts.Messages, freshest)
	}

	// Older activity and the same counts: no write at all.
	rv := got.ResourceVersion
	err := reg.WriteStatus(ctx, obj.Namespace, obj.Name, string(obj.UID), statusUpdate{
		LastActivity: t0,
		Counts: func(context.Context) (v1alpha1.SessionCounts, error) {
			return v1alpha1.SessionCounts{Messages: freshest}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != rv || !got.Status.LastActivityTime.Time.Equal(latest) {
		t.Errorf("a write of older activity changed the object: resourceVersion %s -> %s, lastActivityTime %v", rv, got.ResourceVersion, got.Status.LastActivityTime)
	}
	// Another session of the same name is not written.
	err = reg.WriteStatus(ctx, obj.Namespace, obj.Name, "another-uid", statusUpdate{Counts: func(context.Context) (v1alpha1.SessionCounts, error) {
		return v1alpha1.SessionCounts{}, nil
	}})
	if _, ok := err.(*NotFoundError); !ok {
		t.Errorf("write for another uid: %v, want a *NotFoundError", err)
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
