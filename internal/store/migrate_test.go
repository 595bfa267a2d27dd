package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// openRaw opens a writer pool on a fresh file, as Open does, without
// migrating.
func openRaw(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raw.db")
	db, err := openDB(path, options{busyTimeout: 1e9}, false)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, path
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations = %+v, want 001 first", ms)
	}
}

func TestMigrateFreshThenNoOp(t *testing.T) {
	ctx := context.Background()
	db, _ := openRaw(t)
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, ms); err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if got := userVersion(t, db); got != len(ms) {
		t.Fatalf("user_version = %d, want %d", got, len(ms))
	}
	for _, table := range []string{"apps", "revisions", "tasks", "deployments", "lifecycle_events", "traffic_weights", "events"} {
		if !tableExists(t, db, table) {
			t.Errorf("table %s missing after migrate", table)
		}
	}
	if _, err := db.Exec("INSERT INTO apps (name, created_at, updated_at) VALUES ('keep', 'x', 'x')"); err != nil {
		t.Fatal(err)
	}

	// Applying again is a no-op: the migration SQL would fail with
	// "table apps already exists" if it ran, and the row stays.
	if err := migrate(ctx, db, ms); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM apps").Scan(&n); err != nil || n != 1 {
		t.Fatalf("apps after second migrate: %d, %v; want 1 row", n, err)
	}
}

func TestMigrateAppliesOnlyNewSteps(t *testing.T) {
	ctx := context.Background()
	db, _ := openRaw(t)
	v1 := fstest.MapFS{
		"m/001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
	}
	v2 := fstest.MapFS{
		"m/001_a.sql": v1["m/001_a.sql"],
		"m/002_b.sql": {Data: []byte("CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1);")},
	}
	for i, fsys := range []fstest.MapFS{v1, v2} {
		ms, err := loadMigrations(fsys, "m")
		if err != nil {
			t.Fatal(err)
		}
		if err := migrate(ctx, db, ms); err != nil {
			t.Fatalf("migrate to v%d: %v", i+1, err)
		}
	}
	if got := userVersion(t, db); got != 2 {
		t.Fatalf("user_version = %d, want 2", got)
	}
	if !tableExists(t, db, "b") {
		t.Fatal("table b missing")
	}
}

func TestFailedMigrationRollsBackCompletely(t *testing.T) {
	ctx := context.Background()
	db, _ := openRaw(t)
	fsys := fstest.MapFS{
		"m/001_ok.sql": {Data: []byte("CREATE TABLE ok (x INTEGER);")},
		// The first statements succeed, the third fails: none of the
		// three may remain.
		"m/002_broken.sql": {Data: []byte(`
			CREATE TABLE half (x INTEGER);
			INSERT INTO ok VALUES (42);
			INSERT INTO no_such_table VALUES (1);`)},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(ctx, db, ms)
	if err == nil || !strings.Contains(err.Error(), "002_broken.sql") {
		t.Fatalf("migrate = %v, want an error naming 002_broken.sql", err)
	}
	if got := userVersion(t, db); got != 1 {
		t.Errorf("user_version = %d, want 1 (001 applied, 002 rolled back)", got)
	}
	if tableExists(t, db, "half") {
		t.Error("table half exists: the failed migration was not rolled back")
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM ok").Scan(&n); err != nil || n != 0 {
		t.Errorf("rows in ok = %d, %v; want 0", n, err)
	}
}

func TestOpenRefusesNewerDatabase(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if err := s.PutApp(ctx, App{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"999", "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"gap", fstest.MapFS{"m/001_a.sql": {}, "m/003_c.sql": {}}},
		{"no number", fstest.MapFS{"m/init.sql": {}}},
		{"duplicate", fstest.MapFS{"m/001_a.sql": {}, "m/001_b.sql": {}}},
		{"zero", fstest.MapFS{"m/000_a.sql": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := loadMigrations(tt.fsys, "m"); err == nil {
				t.Fatal("loadMigrations succeeded, want an error")
			}
		})
	}
}
