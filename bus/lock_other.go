//go:build !unix

package bus

// lockDataDir does nothing where there is no flock: see lock_unix.go.
func lockDataDir(string) (func(), error) { return func() {}, nil }
