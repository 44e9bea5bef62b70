package gradcam

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestEachParallel: every index runs once; the error returned is the lowest index's, as a loop's
// would be; a panic in the work reaches the caller.
func TestEachParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100} {
		runs := make([]atomic.Int32, n)
		if err := eachParallel(n, func(i int) error { runs[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range runs {
			if r := runs[i].Load(); r != 1 {
				t.Fatalf("n %d: index %d ran %d times", n, i, r)
			}
		}
	}
	err := eachParallel(50, func(i int) error {
		if i%10 == 3 {
			return fmt.Errorf("failed at %d", i)
		}
		return nil
	})
	if err == nil || err.Error() != "failed at 3" {
		t.Errorf("error %v, want the lowest index's (3)", err)
	}
	defer func() {
		if r := recover(); r == nil || !errors.Is(r.(error), errBoom) {
			t.Errorf("recovered %v, want the work's panic", r)
		}
	}()
	_ = eachParallel(8, func(i int) error {
		if i == 5 {
			panic(errBoom)
		}
		return nil
	})
}

var errBoom = errors.New("boom")
