package store

import (
	"fmt"
	"time"
)

// SessionRef identifies a session: UID keys the data (so a deleted and
// recreated McpSession of the same name never sees old data); namespace,
// name and project are kept for export and diagnostics.
type SessionRef struct {
	UID       string
	Namespace string
	Name      string
	Project   string
}

// Stats are a session's counters, kept in its header and updated in the same
// commit as every write, so they are exact without scanning.
type Stats struct {
	// ContextItems is the number of context entries.
	ContextItems int64 `json:"contextItems"`
	// ContextBytes is the sum of len(key)+len(value) over context entries;
	// MaxContextBytes is checked against it.
	ContextBytes int64 `json:"contextBytes"`
	// Messages is the number of messages in the history.
	Messages int64 `json:"messages"`
	// Discoveries is the number of discoveries.
	Discoveries int64 `json:"discoveries"`
	// StoredBytes is the encoded size of all records of the session except
	// the header (see StoredSize): what the session costs before
	// compression, counted the same by every backend.
	StoredBytes int64 `json:"storedBytes"`
	// NextMsgSeq is the sequence number the next message gets (first is 1).
	NextMsgSeq uint64 `json:"nextMsgSeq"`
	// NextDiscSeq is the sequence number the next discovery gets.
	NextDiscSeq uint64 `json:"nextDiscSeq"`
	// LastActivity is the time of the last write.
	LastActivity time.Time `json:"lastActivity"`
}

// Header is a session's record: identity, creation time and counters.
type Header struct {
	UID       string    `json:"uid"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Project   string    `json:"project"`
	Created   time.Time `json:"created"`
	Stats
}

// Ref returns the identity part of the header.
func (h Header) Ref() SessionRef {
	return SessionRef{UID: h.UID, Namespace: h.Namespace, Name: h.Name, Project: h.Project}
}

// ErrSessionNotFound is the error for a session that does not exist.
var ErrSessionNotFound = fmt.Errorf("session %w", ErrNotFound)

// NewHeader is the header of a session created at created, with nothing in
// it yet.
func NewHeader(ref SessionRef, created time.Time) *Header {
	return &Header{
		UID: ref.UID, Namespace: ref.Namespace, Name: ref.Name, Project: ref.Project,
		Created: created,
		Stats:   Stats{NextMsgSeq: 1, NextDiscSeq: 1, LastActivity: created},
	}
}

// Timestamp is the time records are stamped with: the clock's now in UTC,
// at the microsecond precision the tutorial's isoformat() timestamps carry,
// so export and re-import are exact.
func Timestamp(now time.Time) time.Time {
	return now.UTC().Truncate(time.Microsecond)
}
