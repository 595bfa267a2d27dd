package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema, one forward-only step per file, named
// NNN_name.sql with NNN counting up from 001 without gaps.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned by Open for a database that a newer cutover
// has migrated: this one does not know its schema and must not write to it.
var ErrSchemaTooNew = errors.New("database schema is newer than this cutover")

// migration is one file of the migrations directory.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the NNN_name.sql files of dir in fsys, in order.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", name)
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: version, name: name, sql: string(text)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions count up from 1 without gaps)", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the database to the newest schema in ms. Each migration
// runs in its own transaction together with the PRAGMA user_version that
// records it, so a failing migration leaves the database as it was before
// that migration. A database whose user_version is higher than any known
// migration is refused with ErrSchemaTooNew.
//
// db must begin transactions with BEGIN IMMEDIATE, so that the version
// read inside the transaction cannot be raced by another process.
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	for {
		done, err := migrateOne(ctx, db, ms)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateOne applies the next pending migration, if any, and reports
// whether the schema is up to date.
func migrateOne(ctx context.Context, db *sql.DB, ms []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrating: %w", err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("migrating: reading schema version: %w", err)
	}
	if version > len(ms) {
		return false, fmt.Errorf("%w: the database has schema version %d, this cutover knows up to %d; run a newer cutover or restore a backup",
			ErrSchemaTooNew, version, len(ms))
	}
	if version == len(ms) {
		return true, nil
	}
	m := ms[version]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("applying migration %s: %w", m.name, err)
	}
	// PRAGMA takes no bound parameters; the version is an int.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, fmt.Errorf("applying migration %s: recording version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("applying migration %s: committing: %w", m.name, err)
	}
	return false, nil
}
