package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// timeLayout is how times are stored: UTC, fixed width, so that text
// order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// timeValue scans a stored time; NULL scans as the zero time.
type timeValue struct{ t time.Time }

func (v *timeValue) Scan(src any) error {
	var s string
	switch src := src.(type) {
	case nil:
		v.t = time.Time{}
		return nil
	case string:
		s = src
	case []byte:
		s = string(src)
	default:
		return fmt.Errorf("scanning time: unexpected %T", src)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scanning time: %w", err)
	}
	v.t = t.UTC()
	return nil
}

// nullJSON stores empty JSON as NULL.
func nullJSON(raw json.RawMessage) driver.Value {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// jsonValue scans a JSON column; NULL scans as nil.
type jsonValue struct{ raw json.RawMessage }

func (v *jsonValue) Scan(src any) error {
	switch src := src.(type) {
	case nil:
		v.raw = nil
	case string:
		v.raw = json.RawMessage(src)
	case []byte:
		v.raw = append(json.RawMessage(nil), src...)
	default:
		return fmt.Errorf("scanning JSON: unexpected %T", src)
	}
	return nil
}

// nullString stores "" as NULL, for optional foreign keys.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stringValue scans a nullable text column; NULL scans as "".
type stringValue struct{ s string }

func (v *stringValue) Scan(src any) error {
	switch src := src.(type) {
	case nil:
		v.s = ""
	case string:
		v.s = src
	case []byte:
		v.s = string(src)
	default:
		return fmt.Errorf("scanning text: unexpected %T", src)
	}
	return nil
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// validJSON checks an optional JSON value before it reaches a CHECK
// constraint, for a clearer error.
func validJSON(field string, raw json.RawMessage) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return fmt.Errorf("%w: %s is not valid JSON", ErrInvalid, field)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryer is a *sql.DB or a *tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs query and scans every row with scan.
func queryAll[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}
