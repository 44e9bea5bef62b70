package sgemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallelRunsEveryTaskOnce: every task runs once, on a worker index below the call's
// workers, whether the call has the team, finds it busy (calls from several goroutines at once)
// or is made from inside a task (nested).
func TestParallelRunsEveryTaskOnce(t *testing.T) {
	check := func(w, n int, nested bool) error {
		runs := make([]atomic.Int32, n)
		var bad atomic.Int32
		parallel(w, n, func(worker, task int) {
			if worker < 0 || worker >= w {
				bad.Store(int32(worker) + 1)
			}
			runs[task].Add(1)
			if nested {
				inner := make([]atomic.Int32, 5)
				parallel(2, 5, func(_, i int) { inner[i].Add(1) })
				for i := range inner {
					if inner[i].Load() != 1 {
						bad.Store(-1)
					}
				}
			}
		})
		if b := bad.Load(); b != 0 {
			return fmt.Errorf("w %d, n %d: a task ran on worker %d, or a nested task not once", w, n, b-1)
		}
		for i := range runs {
			if r := runs[i].Load(); r != 1 {
				return fmt.Errorf("w %d, n %d: task %d ran %d times", w, n, i, r)
			}
		}
		return nil
	}
	for _, tc := range []struct{ w, n int }{{1, 7}, {2, 1}, {2, 2}, {2, 1000}, {4, 3}, {8, 100}} {
		if err := check(tc.w, tc.n, false); err != nil {
			t.Fatal(err)
		}
		if err := check(tc.w, tc.n, true); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if err := check(2+g%3, 1+i%17, i%5 == 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestParallelCarriesPanics: a panic in a task, on the caller or on a member of the team,
// continues on the caller's goroutine with its value, after the other tasks end; the team runs
// the next call. Each worker waits in its task until the other is in one too, so that the task
// that panics runs on the worker meant.
func TestParallelCarriesPanics(t *testing.T) {
	for _, worker := range []int{0, 1} {
		got := func() (r any) {
			defer func() { r = recover() }()
			var in [2]atomic.Bool
			parallel(2, 2, func(w, task int) {
				in[w].Store(true)
				for !in[1-w].Load() {
					runtime.Gosched()
				}
				if w == worker {
					panic(fmt.Sprintf("worker %d", w))
				}
			})
			return nil
		}()
		if got != fmt.Sprintf("worker %d", worker) {
			t.Fatalf("a panic on worker %d: parallel panicked with %v", worker, got)
		}
	}
	var n atomic.Int32
	parallel(2, 100, func(_, _ int) { n.Add(1) })
	if n.Load() != 100 {
		t.Fatalf("after the panics, %d of 100 tasks ran", n.Load())
	}
}

// BenchmarkParallel times an element-wise pass over 100,000 floats in two halves: on the
// team, on new goroutines (spawnParallel, what parallel did before the team), and on one
// goroutine.
func BenchmarkParallel(b *testing.B) {
	x := make([]float32, 100000)
	half := func(_, h int) {
		s := x[h*len(x)/2 : (h+1)*len(x)/2]
		for i := range s {
			s[i] = s[i]*1.0001 + 0.5
		}
	}
	b.Run("team", func(b *testing.B) {
		for range b.N {
			parallel(2, 2, half)
		}
	})
	b.Run("new-goroutines", func(b *testing.B) {
		for range b.N {
			spawnParallel(2, 2, half)
		}
	})
	b.Run("one-goroutine", func(b *testing.B) {
		for range b.N {
			half(0, 0)
			half(0, 1)
		}
	})
}
