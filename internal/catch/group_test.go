package catch

import (
	"errors"
	"sync/atomic"
	"testing"
)

// TestGroupCarriesWorkerPanics: a panic on a worker goroutine (or in the caller's share) reaches
// the waiting goroutine, where Panic turns it into an error, after every worker has finished.
func TestGroupCarriesWorkerPanics(t *testing.T) {
	errWorker := errors.New("worker failed")
	for _, tc := range []struct {
		name   string
		panics int // which of 4 tasks panics (0: the caller's), -1: none
	}{{"no panic", -1}, {"worker", 2}, {"caller", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var done atomic.Int32
			err := Panic(func() error {
				var g Group
				task := func(i int) func() {
					return func() {
						defer done.Add(1)
						if i == tc.panics {
							panic(errWorker)
						}
					}
				}
				for i := 1; i < 4; i++ {
					g.Go(task(i))
				}
				g.Run(task(0))
				g.Wait()
				return nil
			})
			if done.Load() != 4 {
				t.Errorf("%d of 4 tasks finished before Wait returned", done.Load())
			}
			if tc.panics < 0 && err != nil || tc.panics >= 0 && !errors.Is(err, errWorker) {
				t.Errorf("error %v", err)
			}
		})
	}
}
