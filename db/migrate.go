package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/bizmcp/bizmcp/migrations"
)

// migrationLockID is the advisory lock that serialises migrations, so that
// several instances starting at once do not race each other's DDL.
const migrationLockID = 0x62697a6d6370 // "bizmcp"

// Migrator applies bizmcp's goose migrations and River's own schema.
type Migrator struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// NewMigrator returns a migrator over pool.
func NewMigrator(pool *pgxpool.Pool, logger *slog.Logger) *Migrator {
	return &Migrator{pool: pool, logger: logger}
}

func (m *Migrator) provider() (*goose.Provider, func() error, error) {
	sqlDB := stdlib.OpenDBFromPool(m.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, sqlDB.Close, nil
}

// withLock runs fn while holding the migration advisory lock.
func (m *Migrator) withLock(ctx context.Context, fn func() error) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return MapError(err, "migration lock")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockID)); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be cancelled, and the lock must go.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockID))
	}()
	return fn()
}

// Up applies every pending migration: bizmcp's schema, then River's tables.
func (m *Migrator) Up(ctx context.Context) error {
	return m.withLock(ctx, func() error {
		p, closeDB, err := m.provider()
		if err != nil {
			return err
		}
		defer closeDB()
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		for _, r := range results {
			m.logger.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
		rm, err := rivermigrate.New(riverpgxv5.New(m.pool), nil)
		if err != nil {
			return fmt.Errorf("load River migrations: %w", err)
		}
		res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("apply River migrations: %w", err)
		}
		for _, v := range res.Versions {
			m.logger.Info("River migration applied", "version", v.Version)
		}
		return nil
	})
}

// Down rolls back the most recent bizmcp migration. River's tables are left
// alone: they hold jobs and belong to River's own migrator.
func (m *Migrator) Down(ctx context.Context) error {
	return m.withLock(ctx, func() error {
		p, closeDB, err := m.provider()
		if err != nil {
			return err
		}
		defer closeDB()
		r, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return errors.New("nothing to roll back: no migration is applied")
		}
		if err != nil {
			return fmt.Errorf("roll back migration: %w", err)
		}
		m.logger.Info("migration rolled back", "version", r.Source.Version, "file", r.Source.Path)
		return nil
	})
}

// Status writes one line per migration: its version, file and state.
func (m *Migrator) Status(ctx context.Context, w io.Writer) error {
	p, closeDB, err := m.provider()
	if err != nil {
		return err
	}
	defer closeDB()
	statuses, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	for _, s := range statuses {
		state := "pending"
		if s.State == goose.StateApplied {
			state = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(w, "%05d  %-40s %s\n", s.Source.Version, s.Source.Path, state)
	}
	return nil
}
