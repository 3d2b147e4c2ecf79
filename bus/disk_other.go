//go:build !(linux || darwin || freebsd)

package bus

// diskFree cannot tell here: the embedded server then keeps NATS's own
// default bound (see DefaultMaxStore).
func diskFree(string) (int64, bool) { return 0, false }

// diskSize cannot tell here: the free-disk guard is off by default (see
// DefaultMinFreeDisk).
func diskSize(string) (int64, bool) { return 0, false }
