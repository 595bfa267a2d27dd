package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// logKeep is how many rotated copies of a log are kept (.1 newest).
const logKeep = 3

func rotatedPath(path string, i int) string { return path + "." + strconv.Itoa(i) }

// rotateLogs rotates the logs of running tasks that grew past
// Options.LogMaxBytes, every Options.LogCheckInterval, until Close.
func (d *Driver) rotateLogs() {
	defer d.wg.Done()
	tick := time.NewTicker(d.opts.LogCheckInterval)
	defer tick.Stop()
	sweep := time.NewTicker(min(time.Minute, d.opts.LogRetention))
	defer sweep.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-sweep.C:
			d.sweepLogs(time.Now().Add(-d.opts.LogRetention))
			continue
		case <-tick.C:
		}
		d.mu.Lock()
		var running []*task
		for _, t := range d.tasks {
			if t.st.Exit == nil {
				running = append(running, t)
			}
		}
		d.mu.Unlock()

		for _, t := range running {
			rotated, err := rotateLog(logPath(d.opts.StateDir, t.st.ID), d.opts.LogMaxBytes)
			if err != nil {
				d.log.Warn("cannot rotate task log", "task", t.st.ID, "err", err)
			}
			if rotated {
				d.mu.Lock()
				t.rotations++
				d.mu.Unlock()
			}
		}
	}
}

// rotateLog rotates path when it is larger than maxBytes, copytruncate
// style, because the task keeps writing to its descriptor: path.2 becomes
// path.3, path.1 becomes path.2, path is copied to path.1 and truncated.
// The task writes with O_APPEND, so its next write lands at offset 0.
// Output written between the copy and the truncation is lost.
func rotateLog(path string, maxBytes int64) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Size() <= maxBytes {
		return false, nil
	}
	src, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer src.Close()
	for i := logKeep - 1; i >= 1; i-- {
		if err := os.Rename(rotatedPath(path, i), rotatedPath(path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	dst, err := os.OpenFile(rotatedPath(path, 1), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return false, fmt.Errorf("copying %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return false, err
	}
	if err := os.Truncate(path, 0); err != nil {
		return false, err
	}
	return true, nil
}

// removeLogs deletes a log and its rotated copies.
func removeLogs(path string) error {
	paths := []string{path}
	for i := 1; i <= logKeep; i++ {
		paths = append(paths, rotatedPath(path, i))
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// sweepLogs deletes the logs of removed tasks last written before cutoff.
func (d *Driver) sweepLogs(cutoff time.Time) {
	entries, err := os.ReadDir(d.opts.StateDir)
	if err != nil {
		d.log.Warn("cannot list task logs", "err", err)
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		d.mu.Lock()
		_, known := d.tasks[id]
		known = known || d.starting[id]
		d.mu.Unlock()
		fi, err := e.Info()
		if known || err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := removeLogs(filepath.Join(d.opts.StateDir, e.Name())); err != nil {
			d.log.Warn("cannot delete the logs of a removed task", "task", id, "err", err)
		}
	}
}
