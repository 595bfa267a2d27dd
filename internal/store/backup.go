package store

import (
	"context"
	"fmt"
	"os"
)

// Backup writes a consistent copy of the database to path, which must
// not exist, while the store keeps serving reads; writers wait until it
// is done. The copy is an ordinary database file that Open accepts; the
// secrets in it are sealed, so keep KeyFileName beside it to read them.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backing up store: %s exists", path)
	}
	if _, err := s.w.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backing up store to %s: %w", path, err)
	}
	return nil
}
