package store

import (
	"context"
	"sync"
)

// Gate admits a store's operations until the store closes, and lets Close
// wait for those in flight: every operation holds it shared, Close holds
// it alone. Both backends use one.
type Gate struct {
	mu     sync.RWMutex
	closed bool
}

// Enter admits one operation, or returns ErrClosed after Close began (or
// ctx's error); the returned func ends the operation.
func (g *Gate) Enter(ctx context.Context) (func(), error) {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		g.mu.RUnlock()
		return nil, err
	}
	return g.mu.RUnlock, nil
}

// EnterSession checks uid, then admits one operation on that session.
func (g *Gate) EnterSession(ctx context.Context, uid string) (func(), error) {
	if err := ValidUID(uid); err != nil {
		return nil, err
	}
	return g.Enter(ctx)
}

// Close waits for the operations in flight, refuses every later one, and
// runs release while no operation runs. A second Close returns ErrClosed.
func (g *Gate) Close(release func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.closed = true
	return release()
}
