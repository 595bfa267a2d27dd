package sandbox

import (
	"fmt"
	"io/fs"
	"os"
)

// Own gives the tree at dir to the sandbox user, so that a sandboxed
// command can write in it. It works through an os.Root of dir, changing
// symlinks themselves: nothing outside dir is changed, even if a
// directory in it is swapped for a link while Own runs. Nothing is done
// unless the mode is ModeFull.
func (s *Sandbox) Own(dir string) error {
	if s.Mode() != ModeFull {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("giving %s to the sandbox user: %w", dir, err)
	}
	defer root.Close()
	err = fs.WalkDir(root.FS(), ".", func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(p, s.uid, s.gid)
	})
	if err != nil {
		return fmt.Errorf("giving %s to the sandbox user: %w", dir, err)
	}
	return nil
}

// MkdirOwned makes dir (mode 0700) and gives it to the sandbox user.
func (s *Sandbox) MkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return s.Own(dir)
}
