package gradcam

import (
	"runtime"
	"sync/atomic"

	"github.com/gradcam-go/gradcam/internal/catch"
)

// eachParallel runs work(i) for i < n on up to every core, and returns the error of the lowest i
// that failed (the one a loop would have stopped at); a panic in any continues on the caller.
func eachParallel(n int, work func(i int) error) error {
	errs := make([]error, n)
	var next atomic.Int64
	run := func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			errs[i] = work(i)
		}
	}
	var g catch.Group
	for range min(runtime.GOMAXPROCS(0), n) - 1 {
		g.Go(run)
	}
	g.Run(run)
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
