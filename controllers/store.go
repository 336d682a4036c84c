package controllers

import "context"

// SessionStore is what the session controller needs from the data store: a
// way to erase everything stored for one session when its object goes away.
// Every store.Store has it.
type SessionStore interface {
	// Erase removes every key stored for the session with this UID. It must
	// be idempotent: erasing a session that has no data (never written, or
	// erased before a crash lost the finalizer removal) returns nil.
	Erase(ctx context.Context, uid string) error
}
