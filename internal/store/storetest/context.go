package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

func testContextRoundTrip(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1") // clock: t0

	e, err := st.SetContext(bg, "u1", "deployment_diff", json.RawMessage(`{ "version": "v2.4.0",  "changes": ["a", "b"] }`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := ContextEntry{Key: "deployment_diff", Value: json.RawMessage(`{"version":"v2.4.0","changes":["a","b"]}`),
		AddedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second), Type: "dict"}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("SetContext = %+v, want %+v", e, want)
	}
	got, err := st.GetContext(bg, "u1", "deployment_diff")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetContext = %+v, %v", got, err)
	}

	// Update keeps added_at, moves updated_at and type.
	e2, err := st.SetContext(bg, "u1", "deployment_diff", json.RawMessage(`"rolled back"`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !e2.AddedAt.Equal(want.AddedAt) || !e2.UpdatedAt.Equal(t0.Add(2*time.Second)) || e2.Type != "str" {
		t.Fatalf("update = %+v", e2)
	}
	if _, err := st.SetContext(bg, "u1", "deploy/region", json.RawMessage(`"eu-west-1"`), Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetContext(bg, "u1", "cache_analysis", json.RawMessage(`45000`), Limits{}); err != nil {
		t.Fatal(err)
	}

	s, _ := st.Stats(bg, "u1")
	wantBytes := int64(len("deployment_diff") + len(`"rolled back"`) + len("deploy/region") + len(`"eu-west-1"`) + len("cache_analysis") + len(`45000`))
	if s.ContextItems != 3 || s.ContextBytes != wantBytes || s.StoredBytes <= wantBytes {
		t.Fatalf("stats = %+v, want 3 items, %d bytes", s, wantBytes)
	}
	if !s.LastActivity.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("lastActivity = %v", s.LastActivity)
	}

	keys, err := st.ContextKeys(bg, "u1", "")
	if err != nil || !reflect.DeepEqual(keys, []string{"cache_analysis", "deploy/region", "deployment_diff"}) {
		t.Fatalf("ContextKeys = %q, %v", keys, err)
	}
	keys, _ = st.ContextKeys(bg, "u1", "deploy")
	if !reflect.DeepEqual(keys, []string{"deploy/region", "deployment_diff"}) {
		t.Fatalf("ContextKeys(deploy) = %q", keys)
	}
	list, err := st.ListContext(bg, "u1", "deploy/")
	if err != nil || len(list) != 1 || list[0].Key != "deploy/region" || string(list[0].Value) != `"eu-west-1"` {
		t.Fatalf("ListContext(deploy/) = %+v, %v", list, err)
	}

	if err := st.DeleteContext(bg, "u1", "deploy/region"); err != nil {
		t.Fatal(err)
	}
	_, err = st.GetContext(bg, "u1", "deploy/region")
	wantErr(t, err, store.ErrNotFound)
	if !strings.Contains(err.Error(), "context key not found") {
		t.Fatalf("missing key error %q does not say the key is missing", err)
	}
	wantErr(t, st.DeleteContext(bg, "u1", "deploy/region"), store.ErrNotFound)
	s, _ = st.Stats(bg, "u1")
	wantBytes -= int64(len("deploy/region") + len(`"eu-west-1"`))
	if s.ContextItems != 2 || s.ContextBytes != wantBytes {
		t.Fatalf("after delete: %+v, want 2 items, %d bytes", s, wantBytes)
	}

	// StoredBytes is the size of the records the session holds.
	var stored int64
	entries, err := st.ListContext(bg, "u1", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		enc, err := store.EncodeJSON(store.ContextRecord{Value: e.Value, AddedAt: e.AddedAt, UpdatedAt: e.UpdatedAt, Type: e.Type})
		if err != nil {
			t.Fatal(err)
		}
		stored += store.StoredSize("u1", store.KindContext, e.Key, enc)
	}
	if s.StoredBytes != stored {
		t.Fatalf("storedBytes = %d, records held = %d", s.StoredBytes, stored)
	}
}

func testContextInvalidInput(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	before := digest(t, st)
	tests := []struct {
		key   string
		value string
	}{
		{"", `1`},
		{"a\x00b", `1`},
		{"\xff", `1`},
		{strings.Repeat("k", store.MaxKeyBytes+1), `1`},
		{"k", ``},
		{"k", `{"a":`},
		{"k", `{"a":1} trailing`},
		{"k", `undefined`},
	}
	for _, tt := range tests {
		_, err := st.SetContext(bg, "u1", tt.key, json.RawMessage(tt.value), Limits{})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SetContext(%q, %q) err = %v, want ErrInvalid", tt.key, tt.value, err)
		}
	}
	if digest(t, st) != before {
		t.Fatal("invalid writes changed the database")
	}
}

func testContextLimitsRefuseAndChangeNothing(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	lim := Limits{MaxValueBytes: ptr.To[int64](1024), MaxContextBytes: ptr.To[int64](3000)}
	big := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`) }
	if _, err := st.SetContext(bg, "u1", "a", big(1000), lim); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetContext(bg, "u1", "b", big(1000), lim); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	stats, _ := st.Stats(bg, "u1")

	_, err := st.SetContext(bg, "u1", "c", big(2048), lim)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "maxValueBytes" || le.Actual != 2048 || le.Over != 1024 {
		t.Fatalf("oversized value: err = %v", err)
	}
	if !strings.Contains(err.Error(), "value is 2048 bytes, 1024 over the maxValueBytes limit of 1024") {
		t.Fatalf("message %q", err)
	}

	_, err = st.SetContext(bg, "u1", "c", big(1000), lim) // 2002 + 1001 = 3003
	if !errors.As(err, &le) || le.Limit != "maxContextBytes" || le.Actual != 3003 || le.Over != 3 || le.Max != 3000 {
		t.Fatalf("context over: err = %v", err)
	}

	if digest(t, st) != before {
		t.Fatal("refused writes changed the database")
	}
	if s, _ := st.Stats(bg, "u1"); s != stats {
		t.Fatalf("refused writes changed stats: %+v vs %+v", s, stats)
	}
	// The cached header was not touched either: the next write accounts from the old totals.
	if _, err := st.SetContext(bg, "u1", "c", big(990), lim); err != nil { // 2002 + 991 = 2993
		t.Fatalf("write within the limit refused: %v", err)
	}
	// Replacing a value with a larger one counts only the difference.
	if _, err := st.SetContext(bg, "u1", "a", big(1007), lim); err != nil { // 3000
		t.Fatalf("replacement within the limit refused: %v", err)
	}
	if s, _ := st.Stats(bg, "u1"); s.ContextBytes != 3000 || s.ContextItems != 3 {
		t.Fatalf("stats = %+v", s)
	}
	// Shrinking is allowed even when a lowered limit is already exceeded.
	if _, err := st.SetContext(bg, "u1", "a", big(10), Limits{MaxContextBytes: ptr.To[int64](100)}); err != nil {
		t.Fatalf("shrinking refused: %v", err)
	}
}

func testContextValueKinds(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	for _, v := range []string{`null`, `true`, `0.7`, `[1,"two",{"three":3}]`, `"日本語"`, `12345678901234567890123`, `{"html":"<b>&amp;</b>"}`} {
		if _, err := st.SetContext(bg, "u1", "k", json.RawMessage(v), Limits{}); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		got, err := st.GetContext(bg, "u1", "k")
		if err != nil || string(got.Value) != v {
			t.Fatalf("value %s read back as %s, %v", v, got.Value, err)
		}
	}
}
