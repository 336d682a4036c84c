package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrations are the schema's versions, applied in order by
// golang-migrate, which records the version in schema_migrations.
//
//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion is the schema version this build needs.
const SchemaVersion = 1

// migrate brings the database to SchemaVersion. golang-migrate holds a
// PostgreSQL advisory lock for the whole run, so replicas starting at once
// wait for each other instead of racing: the first migrates, the others
// find nothing to do. A database at a newer version (a newer build ran
// first) is refused rather than written in a format this build does not
// know.
func (s *Store) migrate(ctx context.Context) error {
	db := stdlib.OpenDB(*s.cfg.ConnConfig.Copy())
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to the store: %w", unavailable(err))
	}
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	drv, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	defer m.Close()
	m.Log = migrateLogger{s}
	// Up, never to a fixed version: that could migrate down a schema a
	// newer replica moved on meanwhile. Up takes the lock before it reads
	// the version, so a replica migrating right now is waited for, not
	// seen half done.
	err = m.Up()
	var dirty migrate.ErrDirty
	switch {
	case err == nil:
		s.log.Info("migrated the store's schema", "to", SchemaVersion)
	case errors.Is(err, migrate.ErrNoChange):
	case errors.As(err, &dirty):
		return fmt.Errorf("the store's schema is dirty at version %d: a migration failed halfway; see docs/operations.md", dirty.Version)
	default:
		if v, _, verr := m.Version(); verr == nil && v > SchemaVersion {
			return fmt.Errorf("the store's schema is at version %d, newer than this build's %d: run a manager at least as new as the one that migrated it", v, SchemaVersion)
		}
		return fmt.Errorf("migrate the store's schema to version %d: %w", SchemaVersion, err)
	}
	return nil
}

// migrateLogger passes golang-migrate's progress to the store's logger.
type migrateLogger struct{ s *Store }

func (l migrateLogger) Printf(format string, v ...any) {
	l.s.log.V(1).Info(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l migrateLogger) Verbose() bool { return false }
