package pgstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Appends that arrive together share one transaction: the store's group
// commit, as the Pebble store shares one WAL sync between the batches in
// its commit pipeline. Each append is still its own statement
// (appendMessageSQL, which checks the session's limit and takes its next
// sequence number under the session row's lock); what they share is the
// round trip, the commit and its WAL flush. Nothing is acknowledged before
// that commit, with synchronous_commit on, so durability is the one of a
// transaction per append.
//
// At most maxBatches batches are in flight (maxAppendBatches). An append
// that finds fewer starts one at once with whatever is waiting (alone,
// without load: no append waits for company); otherwise it waits for the
// next batch, which the batch ending first starts with every append that
// arrived meanwhile.
//
// The appends of a batch take their sessions' row locks in the order of
// the sessions' UIDs, whatever order they arrived in, so two batches (of
// this replica or another) that touch the same sessions cannot deadlock;
// appends to one session keep their order. A batch runs in an implicit
// transaction of the extended protocol (one Sync), so a statement that
// fails rolls back the batch; every append of a batch that failed other
// than by losing its connection is then tried again on its own, so one
// append's error is never another's.
type appendBatcher struct {
	s *Store
	// maxBatches is how many batches may be in flight at once.
	maxBatches int

	mu       sync.Mutex
	waiting  []*appendCall
	inFlight int
}

// appendCall is one append: its statement's arguments and, once its batch
// has committed (done closed), the row it returned.
type appendCall struct {
	uid  string
	args []any

	appended bool
	seq      int64
	ns, name []byte
	err      error
	done     chan struct{}
}

func newAppendBatcher(s *Store, maxBatches int) *appendBatcher {
	return &appendBatcher{s: s, maxBatches: max(1, maxBatches)}
}

// do runs c in the next batch and waits until its batch has committed or
// ctx ends. A caller that gives up may still see its append committed
// (as with any statement canceled late): it was not acknowledged.
func (b *appendBatcher) do(ctx context.Context, c *appendCall) error {
	c.done = make(chan struct{})
	b.mu.Lock()
	b.waiting = append(b.waiting, c)
	var batch []*appendCall
	if b.inFlight < b.maxBatches {
		b.inFlight++
		batch, b.waiting = b.waiting, nil
	}
	b.mu.Unlock()
	if batch != nil {
		go b.flush(batch)
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush commits batch, then the appends that arrived meanwhile, until
// none is waiting.
func (b *appendBatcher) flush(batch []*appendCall) {
	for batch != nil {
		b.commit(batch)
		b.mu.Lock()
		batch, b.waiting = b.waiting, nil
		if batch == nil {
			b.inFlight--
		}
		b.mu.Unlock()
	}
}

// maxAppendBatches is how many batches of appends are in flight at once
// (fewer when the pool is smaller, and at least one). Two keep the server
// busy: one batch is executed and committed while the appends that arrive
// meanwhile gather into the next, which the second connection sends as
// soon as the first returns. More slots split the same appends into more,
// smaller transactions: on this repository's two-core machine, at 64
// writers, 2 slots did 0.98x of the same-shape pgbench in the same run,
// 1 slot 0.90 to 0.95, 4 slots 0.90 to 0.93, 8 slots 0.83 to 0.85 and 16
// (a quarter of the pool) 0.78 to 0.81 (docs/benchmarks.md). The other
// connections stay free for everything else.
const maxAppendBatches = 2

// batchTimeout bounds a batch: its appends' callers may have given up,
// and a batch with no deadline could hold a connection forever.
const batchTimeout = time.Minute

// commit runs batch in one transaction and hands each append its result.
func (b *appendBatcher) commit(batch []*appendCall) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if len(batch) == 1 {
		b.one(ctx, batch[0])
		return
	}
	slices.SortStableFunc(batch, func(x, y *appendCall) int { return strings.Compare(x.uid, y.uid) })
	start := time.Now()
	err := b.s.run(ctx, write, func(ctx context.Context) error {
		q := &pgx.Batch{}
		for _, c := range batch {
			q.Queue(appendMessageSQL, c.args...)
		}
		res := b.s.pool.SendBatch(ctx, q)
		for _, c := range batch {
			if err := c.scan(res.QueryRow()); err != nil {
				_ = res.Close()
				return err
			}
		}
		// Close reads the commit's acknowledgement: nothing is appended
		// before it returns nil.
		return res.Close()
	})
	switch {
	case err == nil:
		b.s.metrics.commit.Observe(time.Since(start).Seconds())
	case connectionLost(err):
		for _, c := range batch {
			c.appended, c.err = false, err
		}
	default:
		// A statement failed and rolled the batch back: each on its own,
		// so the failure stays with its append.
		for _, c := range batch {
			b.one(ctx, c)
		}
	}
}

// one runs a single append in its own transaction.
func (b *appendBatcher) one(ctx context.Context, c *appendCall) {
	start := time.Now()
	c.err = b.s.run(ctx, write, func(ctx context.Context) error {
		return c.scan(b.s.pool.QueryRow(ctx, appendMessageSQL, c.args...))
	})
	if c.err == nil && c.appended {
		b.s.metrics.commit.Observe(time.Since(start).Seconds())
	}
}

// scan reads the append's row: appended with its sequence number, or no
// row (the session is missing or full), which is not an error.
func (c *appendCall) scan(row pgx.Row) error {
	err := row.Scan(&c.seq, &c.ns, &c.name)
	c.appended = err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}
