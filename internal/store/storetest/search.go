package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// seedSearch fills two sessions with the tutorial's debugging story and an
// unrelated one.
func seedSearch(t *testing.T, st store.Store) {
	t.Helper()
	mustCreate(t, st, "leak")
	mustCreate(t, st, "other")
	set := func(uid, k, v string) {
		if _, err := st.SetContext(bg, uid, k, json.RawMessage(v), Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(uid, role, content string) {
		if _, err := st.AppendMessage(bg, uid, Message{Role: role, Content: content}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	disc := func(uid, title, desc string) {
		if _, err := st.AppendDiscovery(bg, uid, Discovery{Title: title, Description: desc}, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	set("leak", "deployment_diff", `{"version":"v2.4.0","changes":["Added real-time analytics feature","Upgraded caching layer","New webhook processing system"]}`)
	set("leak", "cache_analysis", `{"total_entries":45000,"memory_usage":"2.3GB","largest_entries":{"user_analytics_*":"15MB each"}}`)
	msg("leak", "user", "Production API instances are consuming memory at 100MB/hour. Need to find the leak.")
	msg("leak", "assistant", "Let's start systematically. First, let's check what changed in the deployment.")
	msg("leak", "user", "The cache is definitely growing - it has 45,000 entries and using 2.3GB RAM.")
	disc("leak", "In-memory cache has no eviction policy", "The CacheManager stores everything but never removes old entries, so the cache grows without eviction.")
	disc("leak", "Webhook queue grows unbounded", "Failed deliveries are retried forever.")
	set("other", "eviction_notes", `"Eviction of pods in the other cluster"`)
	msg("other", "user", "Kubernetes evicted my pods because of memory pressure.")
}

func testSearchRanksAcrossKinds(t *testing.T, b Backend) {
	st := open(t, b)
	seedSearch(t, st)
	hits, err := st.Search(bg, "cache eviction", []string{"leak"}, store.SearchOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) < 3 {
		t.Fatalf("hits = %+v", hits)
	}
	top := hits[0]
	if top.Kind != store.KindDiscovery || top.Seq != 1 || top.UID != "leak" {
		t.Fatalf("top hit = %+v, want discovery 1", top)
	}
	if !strings.Contains(strings.ToLower(top.Snippet), "eviction") && !strings.Contains(strings.ToLower(top.Snippet), "cache") {
		t.Fatalf("snippet %q lacks a query term", top.Snippet)
	}
	kinds := map[Kind]bool{}
	for i, h := range hits {
		kinds[h.Kind] = true
		if h.UID != "leak" {
			t.Fatalf("hit from unrequested session: %+v", h)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Fatalf("hits not sorted by score: %+v", hits)
		}
		if h.Score <= 0 {
			t.Fatalf("non-positive score: %+v", h)
		}
	}
	if !kinds[store.KindContext] || !kinds[store.KindMessage] || !kinds[store.KindDiscovery] {
		t.Fatalf("expected context, message and discovery hits, got %+v", hits)
	}
	// Context hits are found through their keys and JSON values. The
	// best one is "cache_analysis" (its key and value say cache); stemming
	// also finds deployment_diff through "caching layer".
	var ctxHits []Hit
	for _, h := range hits {
		if h.Kind == store.KindContext {
			ctxHits = append(ctxHits, h)
		}
	}
	if len(ctxHits) != 2 || ctxHits[0].Key != "cache_analysis" || !strings.HasPrefix(ctxHits[0].Snippet, "cache_analysis total_entries 45000") ||
		ctxHits[1].Key != "deployment_diff" || !strings.Contains(ctxHits[1].Snippet, "caching layer") {
		t.Fatalf("context hits = %+v, want cache_analysis then deployment_diff (caching)", ctxHits)
	}
}

// Words match their inflected forms and their case-folded, normalized
// spellings, in every kind of record.
func testSearchFindsInflectedForms(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "We found a leak in the webhook retry loop."}, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendDiscovery(bg, "u1", Discovery{Title: "Fehler im Speicher", Description: "Die Straße der Einträge wächst"}, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetContext(bg, "u1", "notes", json.RawMessage(`"caf\u00e9 menus were cached"`), Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query string
		kind  Kind
	}{
		{"leaks", store.KindMessage},
		{"LEAKING", store.KindMessage},
		{"retried", store.KindMessage},
		{"fehler", store.KindDiscovery},
		{"STRASSE", store.KindDiscovery},
		{"cafe\u0301", store.KindContext}, // decomposed accent
		{"caching", store.KindContext},
	} {
		hits, err := st.Search(bg, tt.query, []string{"u1"}, store.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].Kind != tt.kind {
			t.Errorf("search %q = %+v, want one %s hit", tt.query, hits, tt.kind)
		}
	}
}

// A kind filter reads only records of that kind; the others are neither
// returned nor counted.
func testSearchByKind(t *testing.T, b Backend) {
	st := open(t, b)
	seedSearch(t, st)
	for _, kinds := range [][]Kind{{store.KindContext}, {store.KindMessage}, {store.KindDiscovery}, {store.KindContext, store.KindDiscovery}} {
		hits, err := st.Search(bg, "cache memory eviction", []string{"leak"}, store.SearchOptions{Kinds: kinds, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			t.Errorf("kinds %v: no hits", kinds)
		}
		for _, h := range hits {
			if !slices.Contains(kinds, h.Kind) {
				t.Errorf("kinds %v: hit of kind %s: %+v", kinds, h.Kind, h)
			}
		}
	}
	_, err := st.Search(bg, "cache", []string{"leak"}, store.SearchOptions{Kinds: []Kind{"note"}})
	wantErr(t, err, store.ErrInvalid)
}

func testSearchScopesAndOptions(t *testing.T, b Backend) {
	st := open(t, b)
	seedSearch(t, st)
	hits, err := st.Search(bg, "kubernetes pods", []string{"leak"}, store.SearchOptions{Limit: 10})
	if err != nil || len(hits) != 0 {
		t.Fatalf("search limited to leak found other's data: %+v, %v", hits, err)
	}
	hits, err = st.Search(bg, "kubernetes pods", []string{"leak", "other", "other", "gone"}, store.SearchOptions{Limit: 10})
	if err != nil || len(hits) != 2 || hits[0].UID != "other" {
		t.Fatalf("multi-session search = %+v, %v", hits, err)
	}
	if hits[0].Kind != store.KindMessage || hits[0].Seq != 1 {
		t.Fatalf("top hit = %+v (the message has both terms)", hits[0])
	}
	hits, _ = st.Search(bg, "memory", []string{"leak", "other"}, store.SearchOptions{Limit: 2})
	if len(hits) != 2 {
		t.Fatalf("limit 2 returned %d", len(hits))
	}
	again, _ := st.Search(bg, "memory", []string{"other", "leak"}, store.SearchOptions{Limit: 2})
	if hits[0] != again[0] || hits[1] != again[1] {
		t.Fatalf("results depend on uid order: %+v vs %+v", hits, again)
	}
	_, err = st.Search(bg, " -- ", []string{"leak"}, store.SearchOptions{Limit: 10})
	wantErr(t, err, store.ErrInvalid)
	_, err = st.Search(bg, "memory", nil, store.SearchOptions{Limit: 10})
	wantErr(t, err, store.ErrInvalid)
	_, err = st.Search(bg, "memory", []string{"bad/uid"}, store.SearchOptions{Limit: 10})
	wantErr(t, err, store.ErrInvalid)
}

func testSearchSnippetOfLongMessage(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	content := strings.Repeat("lorem ipsum dolor sit amet ", 40) + "the webhook retry loop leaks memory " + strings.Repeat("consectetur adipiscing elit ", 40)
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: content}, Limits{}); err != nil {
		t.Fatal(err)
	}
	hits, err := st.Search(bg, "webhook", []string{"u1"}, store.SearchOptions{Limit: 1})
	if err != nil || len(hits) != 1 {
		t.Fatalf("%+v, %v", hits, err)
	}
	s := hits[0].Snippet
	if !strings.Contains(s, "webhook retry loop") || len([]rune(s)) > store.SnippetRunes+2 || !strings.HasPrefix(s, "…") {
		t.Fatalf("snippet = %q", s)
	}
}
