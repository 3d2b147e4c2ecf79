//go:build unix

package bus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockDataDir takes an exclusive lock on the data directory for as long as
// this process runs the embedded server on it. Two servers on one store
// each take the other's messages for their own and remove them: events
// acknowledged by one were lost, or delivered twice, when a tester started
// a second routerd on the same data_dir. The kernel drops the lock when
// the process dies, so a crash leaves nothing to clean up.
func lockDataDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bus: data_dir: %w", err)
	}
	path := filepath.Join(dir, "routerd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bus: data_dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("bus: data_dir %s is in use by another routerd (pid %s): one store takes one process", dir, bytes.TrimSpace(holder))
		}
		return nil, fmt.Errorf("bus: lock data_dir %s: %w", dir, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
