package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Several stores open on one database, as replicas are, append to one
// session and set its context at once: the acknowledged sequence numbers
// are exactly 1..N, every message is stored once, and the counters are
// exact.
func testConcurrentStoresOneSession(t *testing.T, b Backend) {
	if !b.Shared {
		t.Skipf("a %s store is opened by one process at a time", b.Name)
	}
	at := b.New(t)
	const replicas, writers, each = 3, 8, 25
	stores := make([]store.Store, replicas)
	for i := range stores {
		stores[i] = at(t, nil)
	}
	mustCreate(t, stores[0], "u1")
	var wg sync.WaitGroup
	seqs := make(chan uint64, replicas*writers*each)
	errs := make(chan error, replicas*writers)
	for r := range replicas {
		for w := range writers {
			wg.Go(func() {
				st := stores[r]
				for i := range each {
					seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: fmt.Sprintf("r%d-w%d-%d", r, w, i)}, Limits{})
					if err != nil {
						errs <- err
						return
					}
					seqs <- seq
					// Every writer also sets a key they all share and one of its own.
					for _, k := range []string{"shared", fmt.Sprintf("r%d-w%d", r, w)} {
						if _, err := st.SetContext(bg, "u1", k, mustJSON(t, i), Limits{}); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const n = replicas * writers * each
	checkContiguous(t, seqs, n)
	msgs, next, err := stores[1].History(bg, "u1", 1, n+1)
	if err != nil || next != 0 || len(msgs) != n {
		t.Fatalf("history: %d messages, next %d, %v", len(msgs), next, err)
	}
	seen := map[string]bool{}
	for i, m := range msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("stored seq %d at position %d", m.Seq, i)
		}
		seen[m.Content] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct contents, want %d", len(seen), n)
	}
	s, err := stores[2].Stats(bg, "u1")
	if err != nil || s.Messages != n || s.NextMsgSeq != n+1 || s.ContextItems != replicas*writers+1 {
		t.Fatalf("stats = %+v, %v; want %d messages and %d context items", s, err, n, replicas*writers+1)
	}
}

// Writers racing for the last places under maxMessages: exactly as many
// succeed as fit, the others get a *LimitError, and the history holds
// exactly the acknowledged messages.
func testConcurrentAppendsAtTheLimit(t *testing.T, b Backend) {
	at := b.New(t)
	stores := []store.Store{at(t, nil)}
	if b.Shared {
		stores = append(stores, at(t, nil))
	}
	mustCreate(t, stores[0], "u1")
	const limit, writers = 40, 16
	lim := Limits{MaxMessages: ptr.To[int64](limit)}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused int
	)
	// Room for every attempt: a broken check fails the test, never hangs it.
	seqs := make(chan uint64, writers*(limit+1))
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			st := stores[w%len(stores)]
			for range limit + 1 {
				seq, err := st.AppendMessage(bg, "u1", Message{Role: "user", Content: "m"}, lim)
				var le *LimitError
				if errors.As(err, &le) {
					if le.Limit != store.LimitMaxMessages || le.Max != limit || le.Actual != limit+1 {
						errs <- fmt.Errorf("limit error %+v", le)
					}
					mu.Lock()
					refused++
					mu.Unlock()
					return
				}
				if err != nil {
					errs <- err
					return
				}
				seqs <- seq
			}
			errs <- fmt.Errorf("writer %d was never refused", w)
		})
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if refused != writers {
		t.Fatalf("%d writers refused, want all %d in the end", refused, writers)
	}
	checkContiguous(t, seqs, limit)
	if s, _ := stores[0].Stats(bg, "u1"); s.Messages != limit || s.NextMsgSeq != limit+1 {
		t.Fatalf("stats = %+v, want exactly %d messages", s, limit)
	}
}

// checkContiguous reads every acknowledged sequence number and fails
// unless they are exactly 1..n.
func checkContiguous(t *testing.T, seqs <-chan uint64, n int) {
	t.Helper()
	var got []int
	for s := range seqs {
		got = append(got, int(s))
	}
	sort.Ints(got)
	if len(got) != n {
		t.Fatalf("%d sequence numbers acknowledged, want %d", len(got), n)
	}
	for i, s := range got {
		if s != i+1 {
			t.Fatalf("acknowledged sequence numbers not 1..%d: position %d is %d", n, i, s)
		}
	}
}
