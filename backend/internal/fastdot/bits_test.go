package fastdot_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// runFloats compiles fn on b, runs it on args, and returns its outputs' values and how much
// count grew meanwhile (one of fastdot.Counted's fields: whether the path under test ran).
func runFloats(t *testing.T, b backends.Backend, fn func([]*Node) []*Node, count func() int64, args ...any) ([][]float32, int64) {
	t.Helper()
	before := count()
	e, err := NewExecAny(b, fn)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([][]float32, len(out))
	for i, o := range out {
		vals[i] = tensors.MustCopyFlatData[float32](o)
	}
	return vals, count() - before
}

// sameBits fails t at the first value of got whose bits differ from want's.
func sameBits(t *testing.T, got, want [][]float32, other string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d outputs, %s %d", len(got), other, len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("output %d: %d values, %s %d", i, len(got[i]), other, len(want[i]))
		}
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("output %d, value %d of %d: %v, %s %v", i, j, len(want[i]), got[i][j], other, want[i][j])
			}
		}
	}
}

// sameBitsWithout runs fn on args, then again with the path under test turned off (off turns it
// off and returns the function restoring it), checks that both runs give the same bits and that
// the second never took the path, and returns how many times the first took it (count's growth).
func sameBitsWithout(t *testing.T, b backends.Backend, fn func([]*Node) []*Node, count func() int64, off func() (restore func()), other string, args ...any) int64 {
	t.Helper()
	got, n := runFloats(t, b, fn, count, args...)
	want, m := func() ([][]float32, int64) {
		defer off()()
		return runFloats(t, b, fn, count, args...)
	}()
	if m != 0 {
		t.Fatalf("the path under test ran %d times with it turned off", m)
	}
	sameBits(t, got, want, other)
	return n
}
