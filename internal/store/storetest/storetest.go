// Package storetest opens throwaway stores for other packages' tests.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/cutover/cutover/internal/store"
)

// Open opens a store in a temporary directory of t's, closed when t ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
