// Package pgstore keeps McpSession data in PostgreSQL, so several manager
// replicas share one store: a store.Store.
//
// A session is one row of mcp_sessions (its header and counters) and one
// row per context entry, message and discovery (migrations/). Every write
// is committed with synchronous_commit on before it is acknowledged, so it
// is acknowledged only once it is durable; appends that arrive together
// share a transaction (appendbatch.go), the other writes have one each. Writers of one session, from any
// replica, are serialised by the session row's lock: an append is one
// statement that advances the session's sequence and inserts the message
// (no gap, no duplicate, whatever commits concurrently), and the other
// writes read the header FOR UPDATE, apply the shared rules of
// internal/store and write back. Limits are checked in the same
// transaction as the write they refuse.
//
// Search is PostgreSQL full-text search: each record's terms, analysed in
// Go exactly as the Pebble store analyses them, are kept in a tsvector
// with a GIN index on (uid, tsv); the matching records are ranked with
// BM25 computed in SQL over the sessions searched (see search.go).
//
// Writes are announced with NOTIFY after they commit, so a replica's
// subscribers hear about writes made through another (Watch).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// DefaultMaxConns is the pool size when the URL does not set
// pool_max_conns: enough for concurrent writers to share the server's
// group commit, few enough for several replicas under PostgreSQL's default
// max_connections of 100.
const DefaultMaxConns = 16

// Options configure Open. The zero value is usable.
type Options struct {
	// Clock stamps every record (default: the real clock).
	Clock clock.PassiveClock
	// Logger reports migrations, lost connections and notification
	// trouble (default: discard).
	Logger logr.Logger
}

// Store is a store.Store in a PostgreSQL database. It is safe for
// concurrent use, and any number of processes may open the same database.
type Store struct {
	pool  *pgxpool.Pool
	cfg   *pgxpool.Config
	clock clock.PassiveClock
	log   logr.Logger
	// origin tells this store's notifications from other processes'.
	origin   string
	notifier *notifier
	metrics  *metrics
	// appends groups concurrent appends into shared transactions.
	appends *appendBatcher

	// gate lets Close wait for operations in flight.
	gate store.Gate
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or DSN; pgxpool
// settings such as pool_max_conns may be added to it), migrates it to the
// schema this build needs (several processes may do so at once: the
// migration holds an advisory lock) and returns the store.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	if !maxConnsSet(url) {
		cfg.MaxConns = DefaultMaxConns
	}
	rt := cfg.ConnConfig.RuntimeParams
	// Every acknowledged write is durable on the server (and on synchronous
	// standbys, if the server has any), whatever the server's default.
	rt["synchronous_commit"] = "on"
	if rt["application_name"] == "" {
		rt["application_name"] = "mcp-session-operator"
	}
	s := &Store{cfg: cfg, clock: opts.Clock, log: opts.Logger, origin: newOrigin(), metrics: newMetrics()}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the store: %w", err)
	}
	s.pool = pool
	s.appends = newAppendBatcher(s, min(maxAppendBatches, int(cfg.MaxConns)))
	s.warnIfNotDurable(ctx)
	s.notifier = startNotifier(s)
	return s, nil
}

// Close waits for operations in flight, sends pending notifications and
// closes the pool. Later calls return store.ErrClosed.
func (s *Store) Close() error {
	return s.gate.Close(func() error {
		s.notifier.stop()
		s.pool.Close()
		return nil
	})
}

// Ping reports whether the database answers: nil, store.ErrClosed after
// Close, or an error wrapping store.ErrUnavailable. It costs one round
// trip on a pooled connection (the readiness probe calls it every 2 s).
func (s *Store) Ping(ctx context.Context) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// begin admits one operation; the returned func ends it.
func (s *Store) begin(ctx context.Context) (func(), error) { return s.gate.Enter(ctx) }

// enter checks uid, then admits one operation on that session.
func (s *Store) enter(ctx context.Context, uid string) (func(), error) {
	return s.gate.EnterSession(ctx, uid)
}

// now is the timestamp for records (store.Timestamp).
func (s *Store) now() time.Time { return store.Timestamp(s.clock.Now()) }

// Kinds of operation, for retry decisions.
const (
	read  = false
	write = true
)

// run runs fn, retrying it once on a fresh connection when the database
// connection failed in a way that cannot have applied it: every read, and
// a write the server refused before running it (the connection was found
// closed, or the server had already terminated it). Connection errors
// wrap store.ErrUnavailable.
func (s *Store) run(ctx context.Context, isWrite bool, fn func(ctx context.Context) error) error {
	err := fn(ctx)
	if err == nil || !connectionLost(err) {
		return err
	}
	if ctx.Err() == nil && (!isWrite || notApplied(err)) {
		s.log.V(1).Info("database connection lost; retrying on a new one", "error", err.Error())
		if err = fn(ctx); err == nil || !connectionLost(err) {
			return err
		}
	}
	return unavailable(err)
}

// tx runs fn in a transaction committed durably; see run for retries.
func (s *Store) tx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	return s.run(ctx, opts.AccessMode != pgx.ReadOnly, func(ctx context.Context) error {
		start := time.Now()
		err := pgx.BeginTxFunc(ctx, s.pool, opts, fn)
		if err == nil && opts.AccessMode != pgx.ReadOnly {
			s.metrics.commit.Observe(time.Since(start).Seconds())
		}
		return err
	})
}

// snapshot is the transaction mode of reads that must see one point in
// time (an export, a search), as the Pebble store reads a snapshot.
var snapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// connectionLost reports whether err is the connection failing rather
// than the statement.
func connectionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08": // connection exception
			return true
		case "57": // operator intervention: admin or crash shutdown, cannot connect now
			return pe.Code != "57014" // query_canceled is a statement's end
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) || isClosedConn(err)
}

// notApplied reports whether a connection failure happened before the
// server could have applied the statement: nothing was sent, or the server
// announced it was ending the connection (a terminated backend answers
// the next statement with that instead of running it, and one terminated
// mid-transaction rolls back).
func notApplied(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code[:2] == "08"
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err)
}

func isClosedConn(err error) bool {
	return err != nil && (err.Error() == "conn closed" || err.Error() == "closed pool")
}

// unavailable wraps a connection failure as store.ErrUnavailable, saying
// what happened.
func unavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w (the connection is re-established on the next call)", store.ErrUnavailable, err)
}

// warnIfNotDurable logs when the server itself gives up durability
// (fsync off): synchronous_commit on the connection cannot make up for it.
func (s *Store) warnIfNotDurable(ctx context.Context) {
	var fsync string
	if err := s.pool.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err == nil && fsync != "on" {
		s.log.Info("the PostgreSQL server runs with fsync off: acknowledged writes can be lost in a crash of its machine")
	}
}
