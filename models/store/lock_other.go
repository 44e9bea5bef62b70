//go:build !unix

package store

// lockFile is a no-op where flock is unavailable: concurrent downloads within one process are
// still serialized by the Store.
func lockFile(string) (func(), error) { return func() {}, nil }
