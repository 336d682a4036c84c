package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

// TestTokenRequestRefresh steps a clock through two token lifetimes: a
// token is minted once and reused, replaced once 80% of its life has
// passed, kept (not dropped) while a refresh fails and it is still valid,
// and refused only once it has expired. (The real TokenRequest API is used
// by the e2e and cluster tests of manager connect.)
func TestTokenRequestRefresh(t *testing.T) {
	clock := testingclock.NewFakeClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	var minted atomic.Int64
	var failing atomic.Bool
	cs := fake.NewClientset()
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateActionImpl).GetObject().(*authnv1.TokenRequest)
		if a.GetSubresource() != "token" || a.GetNamespace() != "payments" {
			return true, nil, fmt.Errorf("unexpected %s %s/%s", a.GetVerb(), a.GetNamespace(), a.GetSubresource())
		}
		if failing.Load() {
			return true, nil, apierrors.NewServiceUnavailable("apiserver away")
		}
		if len(tr.Spec.Audiences) != 1 || tr.Spec.Audiences[0] != "mcp-session-operator" || *tr.Spec.ExpirationSeconds != 3600 {
			return true, nil, fmt.Errorf("asked for %+v", tr.Spec)
		}
		n := minted.Add(1)
		tr.Status = authnv1.TokenRequestStatus{Token: fmt.Sprintf("token-%d", n), ExpirationTimestamp: metav1.NewTime(clock.Now().Add(time.Hour))}
		return true, tr, nil
	})
	src := &TokenRequest{ServiceAccounts: cs.CoreV1(), Namespace: "payments", Name: "debug-assistant", Audience: "mcp-session-operator",
		Clock: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	token := func(want string) {
		t.Helper()
		got, err := src.Token(context.Background())
		if err != nil || got != want {
			t.Fatalf("at %s: token %q, %v; want %q", clock.Now().Format("15:04"), got, err, want)
		}
	}

	token("token-1")
	clock.Step(47 * time.Minute)
	token("token-1") // 78% of its life: kept
	clock.Step(2 * time.Minute)
	token("token-2") // 82%: refreshed, 11 minutes before it expires
	if n := minted.Load(); n != 2 {
		t.Fatalf("%d tokens minted, want 2", n)
	}

	failing.Store(true)
	clock.Step(50 * time.Minute)
	token("token-2") // due for refresh, refresh fails, still valid: kept
	clock.Step(10 * time.Minute)
	if _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "apiserver away") {
		t.Fatalf("expired and no new one: %v", err)
	}
	failing.Store(false)
	token("token-3")
}

func TestTokenRequestRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"forbidden": {apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts/token"}, "debug-assistant", errors.New("no")), "may not mint tokens"},
		"not found": {apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, "debug-assistant"), "service account payments/debug-assistant not found"},
	} {
		cs := fake.NewClientset()
		cs.PrependReactor("create", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, c.err })
		src := &TokenRequest{ServiceAccounts: cs.CoreV1(), Namespace: "payments", Name: "debug-assistant", Audience: "a"}
		if _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestFileToken(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/token"
	if _, err := FileToken(path).Token(context.Background()); err == nil {
		t.Fatal("a missing file gave a token")
	}
	for content, want := range map[string]string{"abc\n": "abc", "  rotated  ": "rotated", "\n": ""} {
		if err := writeFile(path, content); err != nil {
			t.Fatal(err)
		}
		got, err := FileToken(path).Token(context.Background())
		if got != want || (want == "") != (err != nil) {
			t.Errorf("file %q: %q, %v", content, got, err)
		}
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
