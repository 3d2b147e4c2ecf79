//go:build linux || darwin || freebsd

package bus

import "golang.org/x/sys/unix"

// diskFree is the space the file system holding dir has free for an
// unprivileged writer, in bytes.
func diskFree(dir string) (int64, bool) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, false
	}
	return int64(uint64(fs.Bavail) * uint64(fs.Bsize)), true
}

// diskSize is the size of the file system holding dir, in bytes.
func diskSize(dir string) (int64, bool) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, false
	}
	return int64(uint64(fs.Blocks) * uint64(fs.Bsize)), true
}
