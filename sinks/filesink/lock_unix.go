//go:build unix

package filesink

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f, shared by every file sink (of
// this process or another) appending to the same file, until unlockFile.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
