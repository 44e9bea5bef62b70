// Package faults holds the fault-injection points that tests set to force the failures the code
// must survive. Production code only asks them; nothing is injected outside tests.
package faults

import "sync/atomic"

var explain atomic.Pointer[func(model string, image int) error]

// InjectExplain makes Explain return fn's error, until the returned function restores the
// previous injection (a test defers it). A test injects before the evaluation starts.
func InjectExplain(fn func(model string, image int) error) (restore func()) {
	old := explain.Swap(&fn)
	return func() { explain.Store(old) }
}

// Explain is asked after each successful explanation of an evaluated image (package metrics, which
// gradcam evaluate's pipeline runs): the error it returns fails that explanation. It is nil
// unless a test injected a failure.
func Explain(model string, image int) error {
	if fn := explain.Load(); fn != nil {
		return (*fn)(model, image)
	}
	return nil
}
