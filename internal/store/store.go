package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is cutover's embedded database. It is safe for concurrent use.
type Store struct {
	// w is the only connection this process writes through: SQLite has
	// one writer at a time, and queueing writers here, in the pool,
	// instead of in SQLite's busy handler means they never see
	// SQLITE_BUSY. Its transactions begin IMMEDIATE, so a writer in
	// another process makes them wait (busy_timeout), not fail.
	w *sql.DB
	// r serves reads on several query_only connections. In WAL mode
	// readers do not block the writer, nor the writer them.
	r *sql.DB

	now func() time.Time

	sealer *sealer // encrypts secrets at rest; see seal.go

	changed *broadcast // signalled after each commit that appended events

	mu      sync.Mutex     // guards closed and subs.Add
	closed  bool           // set by Close
	closing chan struct{}  // closed by Close; ends subscriptions
	subs    sync.WaitGroup // running subscription goroutines
}

// readConns is the size of the read pool: enough for the API, the
// dashboard's subscriptions and the controllers to read side by side.
const readConns = 4

// Option configures Open.
type Option func(*options)

type options struct {
	fullSync    bool
	busyTimeout time.Duration
	now         func() time.Time
}

// WithFullSync sets PRAGMA synchronous=FULL: every commit is fsynced
// before it returns, so a committed transaction survives a power loss
// too, at the price of an fsync per write. The default, NORMAL, survives a
// crash of the process but may lose the last transactions when the
// machine loses power.
func WithFullSync() Option {
	return func(o *options) { o.fullSync = true }
}

// WithBusyTimeout sets how long a statement waits for a lock held by
// another process before failing with SQLITE_BUSY. The default is 5s.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithClock sets the clock the store stamps rows and events with. The
// default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Open opens the database at path, creating its directory and file when
// they are missing, and migrates it to the schema this cutover knows. A
// database migrated by a newer cutover is refused with ErrSchemaTooNew.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 5 * time.Second, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("opening store %q: the path must be a file name without '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if err := restrictFiles(path); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}

	w, err := openWriter(ctx, path, o)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	r, err := openDB(path, o, true)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}

	sl, err := loadSealer(path)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	s := &Store{
		w:       w,
		r:       r,
		now:     o.now,
		sealer:  sl,
		changed: newBroadcast(),
		closing: make(chan struct{}),
	}
	if err := s.sealClearSecrets(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	return s, nil
}

// openWriter opens the store's one writing connection and brings the
// schema up to date through it.
func openWriter(ctx context.Context, path string, o options) (*sql.DB, error) {
	w, err := openDB(path, o, false)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err == nil {
		err = migrate(ctx, w, ms)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// openDB opens a pool on path. Every connection gets its pragmas from
// the DSN, so a connection the pool opens later is set up like the first.
func openDB(path string, o options, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		// journal_mode is persistent in the file; the writer sets it
		// before the readers open.
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	if o.fullSync {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close ends all subscriptions and closes the database. Transactions
// already committed are in the file; Close only releases it.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	s.subs.Wait()
	return errors.Join(s.r.Close(), s.w.Close())
}

// tx is one write transaction. Methods that change state write their
// rows and their events through the same tx, so both commit or neither.
type tx struct {
	*sql.Tx
	now    time.Time // one timestamp for everything the tx writes
	events int       // events appended
}

// write runs fn in a write transaction and commits it. what says what is
// being done, for the error. Subscribers are woken after the commit.
//
// fn holds the only writer connection: it must not call the Store's
// write methods (they would wait for it forever) and should not wait on
// anything slow.
func (s *Store) write(ctx context.Context, what string, fn func(*tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	// Also on a panic in fn: the writer connection must not stay in a
	// transaction. After Commit, Rollback does nothing.
	defer sqlTx.Rollback()
	t := &tx{Tx: sqlTx, now: s.now().UTC()}
	if err := fn(t); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("%s: committing: %w", what, err)
	}
	if t.events > 0 {
		s.changed.signal()
	}
	return nil
}

// restrictFiles makes the database and its WAL and shared-memory files
// the owner's only (0600), whatever the umask: the database is created
// before SQLite opens it, and SQLite gives the files it creates next to
// it the database's mode.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
