package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

func testCreateGetStats(t *testing.T, b Backend) {
	st := open(t, b)
	h := mustCreate(t, st, "u1")
	want := Header{
		UID: "u1", Namespace: "team-a", Name: "session-u1", Project: "E-Commerce API", Created: t0,
		Stats: Stats{NextMsgSeq: 1, NextDiscSeq: 1, LastActivity: t0},
	}
	if h != want {
		t.Fatalf("Create = %+v, want %+v", h, want)
	}
	got, err := st.Get(bg, "u1")
	if err != nil || got != want {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
	}
	stats, err := st.Stats(bg, "u1")
	if err != nil || stats != want.Stats {
		t.Fatalf("Stats = %+v, %v", stats, err)
	}
	if got.Ref() != (SessionRef{UID: "u1", Namespace: "team-a", Name: "session-u1", Project: "E-Commerce API"}) {
		t.Fatalf("Ref = %+v", got.Ref())
	}
}

func testCreateExisting(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	_, err := st.Create(bg, SessionRef{UID: "u1", Name: "other"})
	wantErr(t, err, store.ErrExists)
	h, _ := st.Get(bg, "u1")
	if h.Name != "session-u1" {
		t.Fatalf("failed create changed the header: %+v", h)
	}
}

func testCreateInvalidRef(t *testing.T, b Backend) {
	empty := emptyDigest(t, b)
	st := open(t, b)
	for _, ref := range []SessionRef{{}, {UID: "a/b"}, {UID: "u", Name: "\xff"}, {UID: "u", Namespace: string(make([]byte, 300))}} {
		_, err := st.Create(bg, ref)
		wantErr(t, err, store.ErrInvalid)
	}
	if digest(t, st) != empty {
		t.Fatal("invalid creates wrote something")
	}
}

func testMissingSession(t *testing.T, b Backend) {
	empty := emptyDigest(t, b)
	st := open(t, b)
	calls := map[string]func() error{
		"Get":             func() error { _, err := st.Get(bg, "nope"); return err },
		"Stats":           func() error { _, err := st.Stats(bg, "nope"); return err },
		"SetContext":      func() error { _, err := st.SetContext(bg, "nope", "k", json.RawMessage(`1`), Limits{}); return err },
		"GetContext":      func() error { _, err := st.GetContext(bg, "nope", "k"); return err },
		"DeleteContext":   func() error { return st.DeleteContext(bg, "nope", "k") },
		"ListContext":     func() error { _, err := st.ListContext(bg, "nope", ""); return err },
		"ContextKeys":     func() error { _, err := st.ContextKeys(bg, "nope", ""); return err },
		"AppendMessage":   func() error { _, err := st.AppendMessage(bg, "nope", Message{Role: "user"}, Limits{}); return err },
		"History":         func() error { _, _, err := st.History(bg, "nope", 0, 10); return err },
		"Tail":            func() error { _, err := st.Tail(bg, "nope", 10); return err },
		"AppendDiscovery": func() error { _, err := st.AppendDiscovery(bg, "nope", Discovery{Title: "t"}, Limits{}); return err },
		"ListDiscoveries": func() error { _, err := st.ListDiscoveries(bg, "nope", store.ListOptions{}); return err },
		"Export":          func() error { _, err := st.Export(bg, "nope"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on a missing session: err = %v, want store.ErrNotFound", name, err)
		}
	}
	if digest(t, st) != empty {
		t.Fatal("operations on a missing session wrote something")
	}
}

func testReopenKeepsDataAndSequence(t *testing.T, b Backend) {
	at := b.New(t)
	st := at(t, NewStepClock())
	mustCreate(t, st, "u1")
	for i := 0; i < 3; i++ {
		if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "m"}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetContext(bg, "u1", "k", json.RawMessage(`"v"`), Limits{}); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Get(bg, "u1")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = at(t, NewStepClock())
	after, err := st.Get(bg, "u1")
	if err != nil || after != before {
		t.Fatalf("after reopen: %+v, %v; want %+v", after, err, before)
	}
	seq, err := st.AppendMessage(bg, "u1", Message{Role: "assistant", Content: "n"}, Limits{})
	if err != nil || seq != 4 {
		t.Fatalf("append after reopen: seq %d, %v; want 4", seq, err)
	}
}

func testClosedStore(t *testing.T, b Backend) {
	st := b.New(t)(t, nil)
	mustCreate(t, st, "u1")
	if err := st.Ping(bg); err != nil {
		t.Fatalf("Ping on an open store: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, st.Close(), store.ErrClosed)
	wantErr(t, st.Ping(bg), store.ErrClosed)
	_, err := st.Get(bg, "u1")
	wantErr(t, err, store.ErrClosed)
	_, err = st.AppendMessage(bg, "u1", Message{Role: "user"}, Limits{})
	wantErr(t, err, store.ErrClosed)
}

func testCancelledContext(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err := st.AppendMessage(ctx, "u1", Message{Role: "user"}, Limits{})
	wantErr(t, err, context.Canceled)
	if s, _ := st.Stats(bg, "u1"); s.Messages != 0 {
		t.Fatalf("cancelled append wrote: %+v", s)
	}
}

func testRealClockDefault(t *testing.T, b Backend) {
	st := b.New(t)(t, nil)
	before := time.Now().Add(-time.Second)
	h, err := st.Create(bg, SessionRef{UID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Created.Before(before) || h.Created.After(time.Now().Add(time.Second)) || h.Created.Location() != time.UTC {
		t.Fatalf("created = %v", h.Created)
	}
	if h.Created.Nanosecond()%1000 != 0 {
		t.Fatalf("created %v not truncated to microseconds", h.Created)
	}
}

// Sessions lists every session once, in UID order, with its counters,
// and stops at fn's error.
func testSessions(t *testing.T, b Backend) {
	st := open(t, b)
	if err := st.Sessions(bg, func(h Header) error { return fmt.Errorf("empty store listed %s", h.UID) }); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"u2", "u10", "u1"} {
		mustCreate(t, st, uid)
		if _, err := st.AppendMessage(bg, uid, Message{Role: "user", Content: uid}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Import(bg, SessionRef{UID: "leak", Name: "leak"}, Tutorial(t), store.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Erase(bg, "u2"); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := st.Sessions(bg, func(h Header) error {
		want, err := st.Get(bg, h.UID)
		if err != nil || h != want {
			return fmt.Errorf("listed %+v, Get says %+v (%v)", h, want, err)
		}
		got = append(got, h.UID)
		return nil
	})
	if err != nil || strings.Join(got, ",") != "leak,u1,u10" {
		t.Fatalf("Sessions listed %q (%v), want leak,u1,u10", got, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := st.Sessions(bg, func(Header) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Sessions after fn's error: %v, %d calls", err, n)
	}
}
