package pgstore

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pgstore/pgtest"
)

func testAppendCall(t *testing.T, st *Store, uid, content string) *appendCall {
	t.Helper()
	w, err := store.PrepareMessage(store.Message{Role: "user", Content: content}, store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tsv, terms := vector(w.Content())
	c, err := newAppendCall(uid, w, tsv, terms, st.now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c.done = make(chan struct{})
	return c
}

// A statement that fails rolls its batch back; the batch's other appends
// are then made one by one, so the failure is only its own append's.
func TestAppendBatchKeepsAFailureToItsAppend(t *testing.T) {
	st := openAt(t, pgtest.NewDatabase(t))
	for _, uid := range []string{"a", "b"} {
		if _, err := st.Create(bg, store.SessionRef{UID: uid}); err != nil {
			t.Fatal(err)
		}
	}
	good1, bad, good2 := testAppendCall(t, st, "b", "one"), testAppendCall(t, st, "a", "two"), testAppendCall(t, st, "a", "three")
	bad.args[3] = "'not a tsvector" // the server refuses it: syntax error
	st.appends.commit([]*appendCall{good1, bad, good2})

	if bad.err == nil || bad.appended {
		t.Errorf("the broken append: err %v, appended %v; want an error", bad.err, bad.appended)
	}
	for _, c := range []*appendCall{good1, good2} {
		if c.err != nil || !c.appended || c.seq != 1 {
			t.Errorf("append to %s: err %v, appended %v, seq %d; want seq 1", c.uid, c.err, c.appended, c.seq)
		}
	}
	for uid, want := range map[string]string{"a": "three", "b": "one"} {
		msgs, _, err := st.History(bg, uid, 0, 10)
		if err != nil || len(msgs) != 1 || msgs[0].Content != want {
			t.Errorf("history of %s: %v %+v; want only %q", uid, err, msgs, want)
		}
	}
}

// Appends of many writers to a few sessions, funnelled through one batch
// at a time so that batches mix sessions and hold several appends of
// each: every session's sequence is contiguous and holds every append.
func TestAppendBatchesMixSessions(t *testing.T) {
	st := openAt(t, pgtest.NewDatabase(t))
	st.appends = newAppendBatcher(st, 1)
	const sessions, writers, each = 4, 16, 20
	for i := range sessions {
		if _, err := st.Create(bg, store.SessionRef{UID: fmt.Sprint("s", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seqs := map[string]map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				uid := fmt.Sprint("s", (w+i)%sessions)
				seq, err := st.AppendMessage(bg, uid, store.Message{Role: "user", Content: fmt.Sprintf("writer %d message %d", w, i)}, store.Limits{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seqs[uid] == nil {
					seqs[uid] = map[uint64]bool{}
				}
				if seqs[uid][seq] {
					t.Errorf("%s: sequence %d handed out twice", uid, seq)
				}
				seqs[uid][seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i := range sessions {
		uid := fmt.Sprint("s", i)
		want := writers * each / sessions
		msgs, _, err := st.History(bg, uid, 0, 1000)
		if err != nil || len(msgs) != want || len(seqs[uid]) != want {
			t.Errorf("%s: %v, %d messages stored, %d acknowledged; want %d", uid, err, len(msgs), len(seqs[uid]), want)
		}
		for n := 1; n <= want; n++ {
			if !seqs[uid][uint64(n)] {
				t.Errorf("%s: sequence %d missing", uid, n)
			}
		}
	}
}
