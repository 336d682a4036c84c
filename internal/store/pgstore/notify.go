package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Writes are announced on this channel, so that each replica can tell its
// subscribers about writes made through the others.
const notifyChannel = "mcpsession_changes"

// Notifications are sent after the writes they announce commit, not in
// their transactions: PostgreSQL serialises the commits of all
// transactions that NOTIFY (it holds a database-wide lock from NOTIFY's
// queueing through the commit, fsync included), which would end the
// group commit that concurrent appends share. A notification is a hint
// that a resource changed: one lost in a crash between the commit and the
// NOTIFY only delays a subscriber's next read.
const (
	// notifyDelay gathers the changes of a burst of writes into one
	// notification per session.
	notifyDelay = 20 * time.Millisecond
	// maxPayload stays under PostgreSQL's 8000-byte NOTIFY payload.
	maxPayload = 7000
)

// payload is one notification: the changed sessions and who changed them.
type payload struct {
	Origin  string         `json:"o"`
	Changes []store.Change `json:"c"`
}

// newOrigin identifies one open store among the replicas.
func newOrigin() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// notifier sends the changes the store's writes record, a little after
// they happen, deduplicated per session.
type notifier struct {
	s       *Store
	mu      sync.Mutex
	pending map[string]store.Change // by UID
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func startNotifier(s *Store) *notifier {
	n := &notifier{s: s, pending: map[string]store.Change{}, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go n.loop()
	return n
}

// changed records a committed write to a session.
func (n *notifier) changed(c store.Change) {
	n.mu.Lock()
	n.pending[c.UID] = c
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// stop sends what is pending and ends the loop.
func (n *notifier) stop() {
	close(n.quit)
	<-n.done
}

func (n *notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.quit:
			n.flush()
			return
		case <-n.wake:
		}
		select {
		case <-n.quit:
		case <-time.After(notifyDelay):
		}
		n.flush()
	}
}

// flush sends every pending change, in as few notifications as fit.
func (n *notifier) flush() {
	n.mu.Lock()
	if len(n.pending) == 0 {
		n.mu.Unlock()
		return
	}
	changes := make([]store.Change, 0, len(n.pending))
	for _, c := range n.pending {
		changes = append(changes, c)
	}
	clear(n.pending)
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for len(changes) > 0 {
		p := payload{Origin: n.s.origin}
		size := 32
		for len(changes) > 0 && (len(p.Changes) == 0 || size+changeSize(changes[0]) <= maxPayload) {
			size += changeSize(changes[0])
			p.Changes = append(p.Changes, changes[0])
			changes = changes[1:]
		}
		data, err := json.Marshal(p)
		if err == nil && len(data) > 7900 {
			n.s.log.Info("not announcing writes whose names are too long for a notification", "sessions", len(p.Changes))
			continue
		}
		if err == nil {
			_, err = n.s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, string(data))
		}
		if err != nil {
			n.s.log.Error(err, "announcing writes to the other replicas")
			return
		}
	}
}

// changeSize is about what one change adds to a payload.
func changeSize(c store.Change) int { return len(c.UID) + 2*len(c.Namespace) + 2*len(c.Name) + 24 }

// Watch calls fn for every write made through another store open on the
// same database (another replica), until ctx ends. It listens on a
// connection of its own and re-establishes it when it is lost;
// notifications sent meanwhile are missed.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	done() // Close does not wait for a watch; the watch ends with ctx.
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, s.cfg.ConnConfig.Copy())
		},
		LogError: func(_ context.Context, err error) {
			if ctx.Err() == nil {
				s.log.Error(err, "listening for other replicas' writes; reconnecting")
			}
		},
		ReconnectDelay: 2 * time.Second,
	}
	l.Handle(notifyChannel, pgxlisten.HandlerFunc(func(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
		var p payload
		if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
			return err
		}
		if p.Origin == s.origin {
			return nil
		}
		for _, c := range p.Changes {
			fn(c)
		}
		return nil
	}))
	if err := l.Listen(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
