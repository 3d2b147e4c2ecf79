//go:build !unix

package filesink

import "os"

// lockFile locks nothing where flock is not to be had: appends are still
// whole, and only a failed write's clean-up can cut another writer's lines.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
