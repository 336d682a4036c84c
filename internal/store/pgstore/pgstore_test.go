package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/storetest"
)

// The store's behaviour is the contract's (internal/store/storetest, run
// for every backend by internal/store/backend); the tests here are about
// PostgreSQL itself: migrations, connections, notifications, the tsvector.

var bg = context.Background()

func openAt(t testing.TB, url string) *Store {
	t.Helper()
	st, err := Open(bg, url, Options{Clock: storetest.NewStepClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func execSQL(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	c, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(bg)
	if _, err := c.Exec(bg, sql, args...); err != nil {
		t.Fatal(err)
	}
}

// Replicas starting at once on an empty database all come up: one
// migrates under the advisory lock, the others wait and find the schema
// ready.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for range replicas {
		wg.Go(func() {
			st, err := Open(bg, url, Options{})
			if err == nil {
				_, err = st.Create(bg, store.SessionRef{UID: newOrigin()})
				_ = st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	c, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(bg)
	var version int
	var dirty bool
	if err := c.QueryRow(bg, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil || version != SchemaVersion || dirty {
		t.Fatalf("schema_migrations: version %d dirty %v (%v), want %d clean", version, dirty, err, SchemaVersion)
	}
	var sessions int
	if err := c.QueryRow(bg, "SELECT count(*) FROM mcp_sessions").Scan(&sessions); err != nil || sessions != replicas {
		t.Fatalf("%d sessions (%v), want one per replica", sessions, err)
	}
}

// A database a newer build migrated is refused, with the versions named,
// and left as it is.
func TestNewerSchemaRefused(t *testing.T) {
	url := pgtest.NewDatabase(t)
	openAt(t, url).Close()
	execSQL(t, url, "UPDATE schema_migrations SET version = $1", SchemaVersion+1)
	_, err := Open(bg, url, Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d, newer than this build's %d", SchemaVersion+1, SchemaVersion)) {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

// Every connection commits synchronously, whatever the server's or the
// database's default says.
func TestSynchronousCommit(t *testing.T) {
	url := pgtest.NewDatabase(t)
	u, _ := pgx.ParseConfig(url)
	execSQL(t, url, "ALTER DATABASE "+pgx.Identifier{u.Database}.Sanitize()+" SET synchronous_commit = off")
	st := openAt(t, url)
	for range 3 {
		var v string
		if err := st.pool.QueryRow(bg, "SHOW synchronous_commit").Scan(&v); err != nil || v != "on" {
			t.Fatalf("synchronous_commit = %q (%v), want on", v, err)
		}
	}
}

// Connections dropped under the writers (the server terminating them, as
// a failover or an idle-connection reaper does): each write either is
// acknowledged, and then stored, or fails with an error wrapping
// store.ErrUnavailable; the store reconnects by itself; sequence numbers
// stay contiguous.
func TestLostConnections(t *testing.T) {
	url := pgtest.NewDatabase(t)
	st := openAt(t, url)
	if _, err := st.Create(bg, store.SessionRef{UID: "u1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	var (
		mu       sync.Mutex
		acked    = map[uint64]string{}
		failures []error
		wg       sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				content := fmt.Sprintf("w%d-%d", w, i)
				seq, err := st.AppendMessage(bg, "u1", store.Message{Role: "user", Content: content}, store.Limits{})
				mu.Lock()
				if err == nil {
					acked[seq] = content
				} else {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		})
	}
	killer, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(bg)
	terminated := 0
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		var n int
		if err := killer.QueryRow(bg, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'mcp-session-operator'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		terminated += n
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	if terminated == 0 {
		t.Fatal("no connection was terminated; the test proves nothing")
	}
	for _, err := range failures {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a write failed with %v, want an error wrapping store.ErrUnavailable", err)
		}
	}
	// The store serves again without being reopened.
	seq, err := st.AppendMessage(bg, "u1", store.Message{Role: "user", Content: "after"}, store.Limits{})
	if err != nil {
		t.Fatalf("append after the connections were dropped: %v", err)
	}
	msgs, _, err := st.History(bg, "u1", 1, int(seq)+1)
	if err != nil || uint64(len(msgs)) != seq {
		t.Fatalf("history: %d messages (%v), last seq %d", len(msgs), err, seq)
	}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("sequence gap: position %d holds %d", i, m.Seq)
		}
		if want, ok := acked[m.Seq]; ok && m.Content != want {
			t.Fatalf("seq %d holds %q, acknowledged %q", m.Seq, m.Content, want)
		}
	}
	t.Logf("%d connections terminated, %d writes acknowledged (all stored), %d failed with ErrUnavailable", terminated, len(acked), len(failures))
	if len(failures) > 0 {
		t.Logf("for example: %v", failures[0])
	}
}

// A store hears about writes made through another store on the same
// database, not about its own.
func TestWatchHearsOtherReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, b := openAt(t, url), openAt(t, url)
	for _, uid := range []string{"from-a", "from-b"} {
		if _, err := a.Create(bg, store.SessionRef{UID: uid, Namespace: "ns", Name: uid}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	heard := make(chan store.Change, 100)
	go func() { _ = a.Watch(ctx, func(c store.Change) { heard <- c }) }()
	// The listener is connected once a write through b is heard.
	deadline := time.After(20 * time.Second)
	for i := 0; ; i++ {
		if _, err := a.AppendMessage(bg, "from-a", store.Message{Role: "user", Content: "a"}, store.Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AppendMessage(bg, "from-b", store.Message{Role: "user", Content: "b"}, store.Limits{}); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-heard:
			if c != (store.Change{UID: "from-b", Namespace: "ns", Name: "from-b"}) {
				t.Fatalf("heard %+v, want the write to from-b through the other store", c)
			}
			// Later writes through b are heard too, each kind of write.
			if _, err := b.SetContext(bg, "from-b", "k", []byte(`1`), store.Limits{}); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-heard:
				if c.UID != "from-b" {
					t.Fatalf("heard %+v", c)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a context write through the other store was not heard")
			}
			return
		case <-deadline:
			t.Fatal("no write through the other store was heard")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Words too long for a tsvector, and terms that occur more often than it
// counts, are still indexed and found.
func TestTSVectorBounds(t *testing.T) {
	st := openAt(t, pgtest.NewDatabase(t))
	if _, err := st.Create(bg, store.SessionRef{UID: "u1"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 3000)
	for _, content := range []string{"a " + long + " b", strings.Repeat("leak ", 400)} {
		if _, err := st.AppendMessage(bg, "u1", store.Message{Role: "user", Content: content}, store.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	for q, seq := range map[string]uint64{long: 1, "leaks": 2} {
		hits, err := st.Search(bg, q, []string{"u1"}, store.SearchOptions{})
		if err != nil || len(hits) != 1 || hits[0].Seq != seq {
			t.Errorf("search %.20q: %+v, %v; want message %d", q, hits, err, seq)
		}
	}
}

func TestVectorAndQuery(t *testing.T) {
	// Twice: the second vector counts in the first one's pooled scratch.
	for range 2 {
		v, n := vector("Leaks, leaking LEAKED; the cache's it's")
		if n != 8 {
			t.Errorf("length %d, want 8 terms", n)
		}
		got := map[string]int{}
		for _, l := range v.Lexemes {
			got[l.Word] = len(l.Positions)
		}
		if len(got) != 5 || got["leak"] != 3 || got["s"] != 2 || got["the"] != 1 {
			t.Errorf("lexemes %v", got)
		}
	}
	if q := tsquery([]string{"it's", `a\b`}); q != `'it''s' | 'a\\b'` {
		t.Errorf("tsquery = %s", q)
	}
	if l := lexeme(strings.Repeat("é", 2000)); len(l) != 2046 {
		t.Errorf("long lexeme cut to %d bytes", len(l))
	}
}

// searchSQL writes BM25's constants out; they must be the store's.
func TestSearchConstants(t *testing.T) {
	if store.BM25K1 != 1.2 || store.BM25B != 0.75 {
		t.Fatalf("BM25 parameters changed to k1=%v b=%v: update searchSQL", store.BM25K1, store.BM25B)
	}
	for _, want := range []string{"2.2::float8", "1.2::float8", "0.25::float8", "0.75::float8"} {
		if !strings.Contains(searchSQL(store.Kinds), want) {
			t.Errorf("searchSQL lacks %s", want)
		}
	}
}
