// Package backend opens the session store a --store value names: the
// embedded Pebble store in a folder ("pebble:/data", or a bare path) or a
// PostgreSQL database ("postgres://..." or "postgresql://...").
package backend

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
	"github.com/mcp-session-operator/mcp-session-operator/internal/store/pebblestore"
)

// Kinds of store a Spec names.
const (
	Pebble   = "pebble"
	Postgres = "postgres"
)

// DefaultSpec is the manager's store when none is given: Pebble on the
// PVC's mount.
const DefaultSpec = "pebble:/data"

// Spec is a parsed --store value.
type Spec struct {
	// Kind is Pebble or Postgres.
	Kind string
	// Dir is the Pebble store's folder.
	Dir string
	// URL is the PostgreSQL connection string (with credentials).
	URL string
}

// Parse reads a --store value: "pebble:DIR", a bare DIR (the old
// --data-dir), or a postgres:// (postgresql://) URL.
func Parse(s string) (Spec, error) {
	switch {
	case s == "":
		return Spec{}, fmt.Errorf("no store given: want pebble:DIR or a postgres:// URL")
	case strings.HasPrefix(s, "pebble:"):
		dir := strings.TrimPrefix(s, "pebble:")
		if dir == "" {
			return Spec{}, fmt.Errorf("store %q names no folder: want pebble:DIR", s)
		}
		return Spec{Kind: Pebble, Dir: dir}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return Spec{}, fmt.Errorf("store URL is not a URL: %v", redactErr(err))
		}
		return Spec{Kind: Postgres, URL: s}, nil
	case strings.Contains(s, "://"):
		scheme, _, _ := strings.Cut(s, "://")
		return Spec{}, fmt.Errorf("store scheme %q is not supported: want pebble:DIR or a postgres:// URL", scheme)
	}
	return Spec{Kind: Pebble, Dir: s}, nil
}

// String is the spec for logs: a URL's password is masked.
func (s Spec) String() string {
	if s.Kind == Pebble {
		return "pebble:" + s.Dir
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return "postgres://(unparsable)"
	}
	return u.Redacted()
}

// Shared reports whether several processes may open the store at once
// (PostgreSQL), so the manager may run as several replicas.
func (s Spec) Shared() bool { return s.Kind == Postgres }

// Options configure Open. The zero value is usable.
type Options struct {
	// Clock stamps records (default: the real clock).
	Clock clock.PassiveClock
	// WALMinSyncInterval is Pebble's group-commit window (see
	// pebblestore.Options); PostgreSQL ignores it.
	WALMinSyncInterval time.Duration
	// Logger reports what a backend does on its own (migrations,
	// reconnects); default: discard.
	Logger logr.Logger
}

// Open opens the store spec names. A PostgreSQL store is migrated to the
// schema this build needs before Open returns.
func Open(ctx context.Context, spec Spec, opts Options) (store.Store, error) {
	switch spec.Kind {
	case Pebble:
		return pebblestore.Open(spec.Dir, pebblestore.Options{Clock: opts.Clock, WALMinSyncInterval: opts.WALMinSyncInterval})
	case Postgres:
		return openPostgres(ctx, spec, opts)
	}
	return nil, fmt.Errorf("unknown store kind %q", spec.Kind)
}

// redactErr keeps a URL's password out of an error message.
func redactErr(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}
