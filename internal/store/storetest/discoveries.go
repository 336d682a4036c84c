package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

func testDiscoveries(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	in := []Discovery{
		{Title: "In-memory cache has no eviction policy", Description: "never removes old entries"},
		{Title: "Webhook queue grows unbounded", Description: "retries forever", Relevance: 0.6},
		{Title: "Analytics data is cached indefinitely", Relevance: 1},
	}
	for i, d := range in {
		seq, err := st.AppendDiscovery(bg, "u1", d, Limits{})
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("append %d: %d, %v", i, seq, err)
		}
	}
	all, err := st.ListDiscoveries(bg, "u1", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Discovery{
		{Seq: 1, Title: in[0].Title, Description: in[0].Description, Relevance: store.DefaultRelevance, Timestamp: t0.Add(1 * time.Second)},
		{Seq: 2, Title: in[1].Title, Description: in[1].Description, Relevance: 0.6, Timestamp: t0.Add(2 * time.Second)},
		{Seq: 3, Title: in[2].Title, Relevance: 1, Timestamp: t0.Add(3 * time.Second)},
	}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("ListDiscoveries = %+v\nwant %+v", all, want)
	}
	recent, _ := st.ListDiscoveries(bg, "u1", store.ListOptions{Limit: 2, RecentFirst: true})
	if len(recent) != 2 || recent[0].Seq != 3 || recent[1].Seq != 2 {
		t.Fatalf("recent first = %+v", recent)
	}
	first, _ := st.ListDiscoveries(bg, "u1", store.ListOptions{Limit: 1})
	if len(first) != 1 || first[0].Seq != 1 {
		t.Fatalf("limit 1 = %+v", first)
	}
	if s, _ := st.Stats(bg, "u1"); s.Discoveries != 3 || s.NextDiscSeq != 4 {
		t.Fatalf("stats = %+v", s)
	}
}

func testDiscoveryInvalid(t *testing.T, b Backend) {
	st := open(t, b)
	mustCreate(t, st, "u1")
	before := digest(t, st)
	for _, d := range []Discovery{{}, {Title: "t", Relevance: 1.5}, {Title: "t", Relevance: -1}, {Title: "\xff"}, {Title: "t", Description: "\xfe"}} {
		_, err := st.AppendDiscovery(bg, "u1", d, Limits{})
		wantErr(t, err, store.ErrInvalid)
	}
	if digest(t, st) != before {
		t.Fatal("invalid discoveries changed the database")
	}
}
