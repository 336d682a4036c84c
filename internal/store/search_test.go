package store

import (
	"encoding/json"
	"strings"
	"testing"
)

// seedSearch fills two sessions with the tutorial's debugging story and an
// unrelated one.
func seedSearch(t *testing.T, st *Store) {
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
		if _, err := st.AppendDiscovery(bg, uid, Discovery{Title: title, Description: desc}); err != nil {
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

func TestSearchRanksAcrossKinds(t *testing.T) {
	st := openTest(t)
	seedSearch(t, st)
	hits, err := st.Search(bg, "cache eviction", []string{"leak"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) < 3 {
		t.Fatalf("hits = %+v", hits)
	}
	top := hits[0]
	if top.Kind != KindDiscovery || top.Seq != 1 || top.UID != "leak" {
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
	if !kinds[KindContext] || !kinds[KindMessage] || !kinds[KindDiscovery] {
		t.Fatalf("expected context, message and discovery hits, got %+v", hits)
	}
	// The context hit is found through a JSON string value and has its key.
	var ctxHit *Hit
	for i := range hits {
		if hits[i].Kind == KindContext {
			ctxHit = &hits[i]
		}
	}
	// The key counts: "cache_analysis" matches "cache" (no stemming, so
	// deployment_diff's "caching layer" does not).
	if ctxHit == nil || ctxHit.Key != "cache_analysis" || !strings.HasPrefix(ctxHit.Snippet, "cache_analysis total_entries 45000") {
		t.Fatalf("context hit = %+v", *ctxHit)
	}
}

func TestSearchScopesAndOptions(t *testing.T) {
	st := openTest(t)
	seedSearch(t, st)
	hits, err := st.Search(bg, "evicted pods", []string{"leak"}, 10)
	if err != nil || len(hits) != 0 {
		t.Fatalf("search limited to leak found other's data: %+v, %v", hits, err)
	}
	hits, err = st.Search(bg, "evicted pods", []string{"leak", "other", "other", "gone"}, 10)
	if err != nil || len(hits) != 2 || hits[0].UID != "other" {
		t.Fatalf("multi-session search = %+v, %v", hits, err)
	}
	if hits[0].Kind != KindMessage || hits[0].Seq != 1 {
		t.Fatalf("top hit = %+v (the message has both terms)", hits[0])
	}
	hits, _ = st.Search(bg, "memory", []string{"leak", "other"}, 2)
	if len(hits) != 2 {
		t.Fatalf("limit 2 returned %d", len(hits))
	}
	again, _ := st.Search(bg, "memory", []string{"other", "leak"}, 2)
	if hits[0] != again[0] || hits[1] != again[1] {
		t.Fatalf("results depend on uid order: %+v vs %+v", hits, again)
	}
	_, err = st.Search(bg, " -- ", []string{"leak"}, 10)
	wantErr(t, err, ErrInvalid)
	_, err = st.Search(bg, "memory", nil, 10)
	wantErr(t, err, ErrInvalid)
	_, err = st.Search(bg, "memory", []string{"bad/uid"}, 10)
	wantErr(t, err, ErrInvalid)
}

func TestSearchSnippetOfLongMessage(t *testing.T) {
	st := openTest(t)
	mustCreate(t, st, "u1")
	content := strings.Repeat("lorem ipsum dolor sit amet ", 40) + "the webhook retry loop leaks memory " + strings.Repeat("consectetur adipiscing elit ", 40)
	if _, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: content}, Limits{}); err != nil {
		t.Fatal(err)
	}
	hits, err := st.Search(bg, "webhook", []string{"u1"}, 1)
	if err != nil || len(hits) != 1 {
		t.Fatalf("%+v, %v", hits, err)
	}
	s := hits[0].Snippet
	if !strings.Contains(s, "webhook retry loop") || len([]rune(s)) > snippetRunes+2 || !strings.HasPrefix(s, "…") {
		t.Fatalf("snippet = %q", s)
	}
}
