package catch

import "sync/atomic"

var debugStacks atomic.Bool

// WithStacks makes Panic append the stack trace of a panic to its error (the commands and
// notebooks turn it on with GRADCAM_DEBUG).
func WithStacks(on bool) { debugStacks.Store(on) }
