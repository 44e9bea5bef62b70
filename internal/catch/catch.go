// Package catch turns panics into errors at API boundaries. GoMLX reports graph-building errors
// by panicking; the toolkit's exported functions return errors instead.
package catch

import (
	"fmt"
	"runtime/debug"
)

// Panic runs fn and returns its error, or what it panicked with as an error. Errors keep their
// identity for errors.Is/As; other values are formatted. With WithStacks(true) the stack trace
// of a panic is appended. Taking fn's error here, rather than through a variable the closure
// assigns, means a call's error cannot be dropped by the panic check.
func Panic(fn func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if e, ok := r.(error); ok {
			err = e
		} else {
			err = fmt.Errorf("%v", r)
		}
		if debugStacks.Load() {
			err = fmt.Errorf("%w\n%s", err, debug.Stack())
		}
	}()
	return fn()
}
