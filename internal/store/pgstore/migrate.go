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
	before, dirty, err := m.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return fmt.Errorf("schema version: %w", err)
	}
	if dirty {
		return fmt.Errorf("the store's schema is dirty at version %d: a migration failed halfway; see docs/operations.md", before)
	}
	if before > SchemaVersion {
		return fmt.Errorf("the store's schema is at version %d, newer than this build's %d: run a manager at least as new as the one that migrated it", before, SchemaVersion)
	}
	// Up, never to a fixed version: that could migrate down a schema a
	// newer replica moved on meanwhile. Up fails on a version this build
	// has no migration for.
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate the store's schema to version %d: %w", SchemaVersion, err)
	}
	if before != SchemaVersion {
		s.log.Info("migrated the store's schema", "from", before, "to", SchemaVersion)
	}
	return nil
}

// migrateLogger passes golang-migrate's progress to the store's logger.
type migrateLogger struct{ s *Store }

func (l migrateLogger) Printf(format string, v ...any) {
	l.s.log.V(1).Info(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l migrateLogger) Verbose() bool { return false }
