package filesink

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// canWrite reports why routerd could not open the file at path for
// writing. Root passes every permission check, so the file system is
// asked too.
func canWrite(path string) error {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var st unix.Statfs_t
	if unix.Statfs(path, &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
		return fmt.Errorf("%s: read-only file system", path)
	}
	return nil
}

// canCreateIn reports why routerd could not create entries in directory
// dir: canWrite's reasons, or a pseudo file system (/proc, /sys), where no
// file can be created whatever the permissions say.
func canCreateIn(dir string) error {
	if err := canWrite(dir); err != nil {
		return err
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && (st.Type == unix.PROC_SUPER_MAGIC || st.Type == unix.SYSFS_MAGIC) {
		return fmt.Errorf("%s: a pseudo file system (/proc, /sys), where files cannot be created", dir)
	}
	return nil
}
