package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Package-local names for the shared types, so the code reads as before.
type (
	// Header is store.Header.
	Header = store.Header
	// Limits is store.Limits.
	Limits = store.Limits
)

// Defaults for Options. The memtable is larger than Pebble's 4 MiB default
// because appends arrive as a steady stream of ~1 KiB records: fewer, larger
// flushes mean fewer L0 files and less compaction work competing with
// commits for the CPU.
const (
	DefaultCacheSize    = 64 << 20
	DefaultMemTableSize = 32 << 20
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Clock stamps every record and the header's lastActivity. Tests inject
	// a fake clock so documents and timestamps are deterministic.
	// Defaults to the real clock.
	Clock clock.PassiveClock
	// CacheSize is Pebble's block cache in bytes (default DefaultCacheSize).
	CacheSize int64
	// MemTableSize is Pebble's memtable size in bytes (default
	// DefaultMemTableSize).
	MemTableSize uint64
	// WALMinSyncInterval is the shortest time between two WAL fsyncs
	// (Pebble's group-commit window); zero, the default, syncs as soon as
	// a write asks. A window makes writes that arrive within it share one
	// fsync, which saves CPU when many clients write at once, but every
	// write, even a lone one, then waits up to the window for its fsync.
	// A write is acknowledged only after the fsync that covers it either
	// way. docs/benchmarks.md has measurements.
	WALMinSyncInterval time.Duration
	// Logger receives Pebble's log output (default: Pebble's, via the
	// standard log package).
	Logger pebble.Logger
	// fs replaces the operating system's file system; tests use it to
	// inject I/O errors.
	fs vfs.FS
}

// Store keeps sessions in an embedded Pebble database (a store.Store). It
// is safe for concurrent use by one process: Pebble locks its directory, so
// a second process (another replica) cannot open it. Writes to one session
// are serialised by a per-session mutex, held from reading the header until the batch is applied (see
// write), so counters and sequence numbers never race. The mutex is not held
// while waiting for the WAL fsync, so writes to one session, like writes to
// different sessions, share fsyncs through Pebble's group commit.
type Store struct {
	db    *pebble.DB
	clock clock.PassiveClock

	// gate lets Close wait for operations in flight instead of Pebble
	// panicking under them.
	gate store.Gate

	mu       sync.Mutex
	sessions map[string]*entry // guarded by mu
}

// entry is the per-session writer lock plus the cached header, so an append
// costs no read. Only writers (holding mu) use hdr; readers always read the
// header from Pebble. hdr is the header of the last batch applied to Pebble,
// which may still be waiting for its fsync: the next writer builds on it,
// and its batch follows in the WAL, so it cannot become durable without it.
type entry struct {
	mu   sync.Mutex
	hdr  *Header // nil until loaded or after an uncertain commit
	dead bool    // removed from Store.sessions; lockers must look up again
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = DefaultMemTableSize
	}
	po := &pebble.Options{
		CacheSize:          opts.CacheSize,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             opts.Logger,
		FS:                 opts.fs,
	}
	if d := opts.WALMinSyncInterval; d > 0 {
		po.WALMinSyncInterval = func() time.Duration { return d }
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open store %s (one process at a time: is another manager using it?): %w", dir, err)
	}
	return &Store{db: db, clock: opts.Clock, sessions: map[string]*entry{}}, nil
}

var _ store.Store = (*Store)(nil)

// Close waits for operations in flight and closes the database. Later calls
// return ErrClosed.
func (s *Store) Close() error {
	return s.gate.Close(func() error {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("close store: %w", err)
		}
		return nil
	})
}

// Ping reports whether the store serves operations: nil while it is open,
// store.ErrClosed once Close began. It costs no I/O, so the manager's readiness
// check can call it on every probe.
func (s *Store) Ping(ctx context.Context) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	done()
	return nil
}

// begin admits one operation; the returned func ends it.
func (s *Store) begin(ctx context.Context) (func(), error) { return s.gate.Enter(ctx) }

// enter checks uid, then admits one operation on that session.
func (s *Store) enter(ctx context.Context, uid string) (func(), error) {
	return s.gate.EnterSession(ctx, uid)
}

// read runs fn on a snapshot of the store after checking uid and that the
// session exists, so a reader sees one point in time while writers append.
func (s *Store) read(ctx context.Context, uid string, fn func(snap *pebble.Snapshot) error) error {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return err
	}
	defer done()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	if _, err := readHeader(snap, uid); err != nil {
		return err
	}
	return fn(snap)
}

// now is the timestamp for records (store.Timestamp).
func (s *Store) now() time.Time { return store.Timestamp(s.clock.Now()) }

// Watch returns at once: only one process can open a Pebble store, so
// there is never a write through another to report.
func (s *Store) Watch(context.Context, func(store.Change)) error { return nil }

// Exclusive is true: only this process can open the store (Pebble locks
// its folder). See store.Exclusive.
func (s *Store) Exclusive() bool { return true }

// lockSession returns the locked entry for uid, creating it if needed.
func (s *Store) lockSession(uid string) *entry {
	for {
		s.mu.Lock()
		e := s.sessions[uid]
		if e == nil {
			e = &entry{}
			s.sessions[uid] = e
		}
		s.mu.Unlock()
		e.mu.Lock()
		if !e.dead {
			return e
		}
		e.mu.Unlock()
	}
}

// forget drops a locked entry so the map does not keep uids that were erased
// or never existed. Writers already waiting on e.mu see dead and retry with a
// fresh entry, which reloads the header from disk.
func (s *Store) forget(uid string, e *entry) {
	e.dead = true
	e.hdr = nil
	s.mu.Lock()
	if s.sessions[uid] == e {
		delete(s.sessions, uid)
	}
	s.mu.Unlock()
}

// cachedHeader returns the header of a locked entry, loading it once.
func (s *Store) cachedHeader(e *entry, uid string) (*Header, error) {
	if e.hdr != nil {
		return e.hdr, nil
	}
	h, err := readHeader(s.db, uid)
	if err != nil {
		return nil, err
	}
	e.hdr = h
	return h, nil
}

// mutate runs one write to an existing session. fn gets a copy of the header
// to update, a batch to fill and the write's timestamp; the batch and the new
// header then commit together, synced (see write). An error from fn refuses
// the write: nothing is applied and the cached header is unchanged.
func (s *Store) mutate(ctx context.Context, uid string, fn func(h *Header, b *pebble.Batch, now time.Time) error) error {
	done, err := s.enter(ctx, uid)
	if err != nil {
		return err
	}
	defer done()
	b := s.db.NewBatch()
	defer b.Close()
	return s.write(uid, b, func(e *entry) (*Header, error) {
		cur, err := s.cachedHeader(e, uid)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.forget(uid, e)
			}
			return nil, err
		}
		next := *cur
		now := s.now()
		if err := fn(&next, b, now); err != nil {
			return nil, err
		}
		next.LastActivity = now
		return &next, nil
	})
}

// write commits one batch to session uid and returns once it is durable.
// Under the session lock, fill builds b and returns the session's new header
// (an error refuses the write: nothing is applied); the header joins b, and
// b enters Pebble's commit pipeline without waiting for the fsync:
// ApplyNoSyncWait returns once b has its place in the WAL and is applied to
// the memtable, so it is visible to readers and to the next writer's fill.
// The cached header then advances and the lock is released before the wait
// for the fsync, so the next writer of the session queues its batch behind
// this one and the two share an fsync instead of taking turns. The caller
// acknowledges only after SyncWait, and the WAL is written and synced in
// order, so an acknowledged write never depends on a batch that is not
// durable. The caller must hold Store.begin and close b after write returns
// (Pebble forbids closing a batch before its SyncWait).
//
// If the apply fails, whether b reached the WAL is unknown, and if the fsync
// fails b is visible but may not survive a crash. Either way the write is
// not acknowledged and the session's entry is dropped, so the next writer
// rereads the header from Pebble rather than trusting the cache. Nothing
// can undo an applied batch; Pebble keeps a WAL sync error, so every later
// synced write fails too (and Pebble panics at its next WAL block or
// rotation); a Pebble Apply would instead have called Logger.Fatalf.
func (s *Store) write(uid string, b *pebble.Batch, fill func(e *entry) (*Header, error)) error {
	e := s.lockSession(uid)
	err := s.apply(e, uid, b, fill)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if err := b.SyncWait(); err != nil {
		e.mu.Lock()
		s.forget(uid, e)
		e.mu.Unlock()
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// apply is write's locked part: fill, then add the header and apply b.
func (s *Store) apply(e *entry, uid string, b *pebble.Batch, fill func(e *entry) (*Header, error)) error {
	h, err := fill(e)
	if err != nil {
		return err
	}
	enc, err := encodeHeader(h)
	if err != nil {
		return err
	}
	if err := b.Set(metaKey(uid), enc, nil); err != nil {
		return err
	}
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		s.forget(uid, e)
		return fmt.Errorf("commit: %w", err)
	}
	e.hdr = h
	return nil
}

// getRaw reads one value, copied out of Pebble's buffer.
func getRaw(r pebble.Reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	if err := closer.Close(); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// scan iterates [lower, upper) calling fn with each key and value; the slices
// are only valid during the call. Iteration stops early when fn returns
// errStop, and checks ctx every few thousand keys so a long search or export
// can be cancelled.
func scan(ctx context.Context, r pebble.Reader, lower, upper []byte, reverse bool, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	n := 0
	var valid bool
	if reverse {
		valid = it.Last()
	} else {
		valid = it.First()
	}
	for ; valid; n++ {
		if n%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				_ = it.Close()
				return err
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		if reverse {
			valid = it.Prev()
		} else {
			valid = it.Next()
		}
	}
	return it.Close()
}

// errStop ends a scan early without error.
var errStop = errors.New("stop scan")
