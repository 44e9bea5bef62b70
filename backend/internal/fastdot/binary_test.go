package fastdot_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// TestBinaryMatchesSimplego runs float32 Add, Sub, Mul, Max and Min with the broadcasts the models
// use (batch norm and bias: [B, H, W, C] with [1, 1, 1, C]; ReLU: with a scalar), on either
// side, large enough to split over goroutines, through fastdot, and compares them with
// simplego's own float64 ops. The chained ops reuse their operands' buffers. An operand repeated
// along middle axes (Grad-CAM's weights [B, 1, 1, C]) is handled; one repeated along two
// separate runs of axes falls back to simplego.
func TestBinaryMatchesSimplego(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	if !fastdot.Installed() {
		if sgemm.Available() {
			t.Fatalf("fastdot not installed on an AVX2/FMA CPU: %v", fastdot.Install())
		}
		t.Skip("no AVX2/FMA")
	}
	ops := map[string]func(x, y *Node) *Node{"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Max": Max, "Min": Min}
	cases := []struct {
		name    string
		x, y    []int
		handled bool
	}{
		{"equal", []int{2, 30, 30, 64}, []int{2, 30, 30, 64}, true},
		{"channels on the right", []int{2, 30, 30, 64}, []int{1, 1, 1, 64}, true},
		{"channels at batch 1", []int{1, 30, 30, 64}, []int{1, 1, 1, 64}, true},
		{"40 channels, an odd number of rows (runs end mid-run)", []int{3, 31, 29, 40}, []int{1, 1, 1, 40}, true},
		{"channels on the left", []int{1, 1, 1, 64}, []int{2, 30, 30, 64}, true},
		{"trailing axes", []int{3, 17, 5, 7}, []int{1, 17, 5, 7}, true},
		{"scalar on the right", []int{2, 30, 30, 64}, []int{}, true},
		{"scalar on the left", []int{}, []int{2, 30, 30, 64}, true},
		{"small", []int{3, 5}, []int{1, 5}, true},
		{"middle axes (Grad-CAM's weights per image and channel)", []int{2, 30, 30, 64}, []int{2, 1, 1, 64}, true},
		{"middle axes on the left", []int{3, 1, 1, 40}, []int{3, 31, 29, 40}, true},
		{"last axis repeated", []int{2, 9, 7, 5}, []int{2, 9, 7, 1}, true},
		{"two runs of size-1 axes", []int{2, 30, 30, 64}, []int{1, 30, 1, 64}, false},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for opName, op := range ops {
		for _, tc := range cases {
			t.Run(opName+"/"+tc.name, func(t *testing.T) {
				x32, x64 := randomTensor(rng, tc.x...)
				y32, y64 := randomTensor(rng, tc.y...)
				// op, then op again on its own (owned) result, so that buffers are reused.
				fn := func(x, y *Node) *Node {
					z := op(x, y)
					return Add(op(z, y), z)
				}
				calls, fallbacks := fastdot.Counted().Binary, fastdot.Counted().BinaryFallbacks
				got, err := ExecOnce(b, fn, x32, y32)
				if err != nil {
					t.Fatal(err)
				}
				ran, fell := fastdot.Counted().Binary-calls, fastdot.Counted().BinaryFallbacks-fallbacks
				if tc.handled && (ran != 3 || fell != 0) || !tc.handled && fell == 0 {
					t.Errorf("fastdot ran %d, simplego %d; handled should be %v", ran, fell, tc.handled)
				}
				want, err := ExecOnce(b, fn, x64, y64)
				if err != nil {
					t.Fatal(err)
				}
				g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float64](want)
				if len(g) != len(w) {
					t.Fatalf("%d values, want %d", len(g), len(w))
				}
				for i := range w {
					if math.Abs(float64(g[i])-w[i]) > 1e-5*(1+math.Abs(w[i])) {
						t.Fatalf("value %d: %g, want %g", i, g[i], w[i])
					}
				}
			})
		}
	}
	t.Run("Div gives simplego's bits", func(t *testing.T) {
		for _, dims := range [][2][]int{{{2, 9, 7, 40}, {2, 9, 7, 40}}, {{2, 9, 7, 40}, {1, 9, 7, 40}}, {{1, 9, 7, 40}, {2, 9, 7, 40}}, {{3, 40}, {}}, {{}, {3, 40}}} {
			x, _ := randomTensor(rng, dims[0]...)
			y, _ := randomTensor(rng, dims[1]...)
			if !matchesSimplego(t, b, Div, x, y) {
				t.Errorf("Div %v / %v not handled by fastdot", dims[0], dims[1])
			}
		}
	})
	t.Run("Max propagates NaN", func(t *testing.T) {
		x := tensors.FromFlatDataAndDimensions([]float32{float32(math.NaN()), 1, -1, 2}, 1, 4)
		y := tensors.FromFlatDataAndDimensions([]float32{0, float32(math.NaN()), 0, 0}, 1, 4)
		got, err := ExecOnce(b, Max, x, y)
		if err != nil {
			t.Fatal(err)
		}
		g := tensors.MustCopyFlatData[float32](got)
		if !math.IsNaN(float64(g[0])) || !math.IsNaN(float64(g[1])) || g[2] != 0 || g[3] != 2 {
			t.Errorf("Max = %v, want [NaN NaN 0 2]", g)
		}
	})
}

// TestSelectMatchesSimplego runs float32 GreaterThan and LessThan (against a tensor or a scalar),
// LogicalAnd and Where (scalar or tensor branches), as the ReLU rules' backward pass uses them,
// through fastdot and compares them with simplego's own float64 ops (fastdot off).
func TestSelectMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	fns := map[string]func(x, y *Node) *Node{
		"guided rule": func(x, v *Node) *Node {
			zero := ScalarZero(x.Graph(), x.DType())
			inside := LogicalAnd(GreaterThan(x, zero), LessThan(x, Scalar(x.Graph(), x.DType(), 0.5)))
			return Where(inside, Max(v, zero), zero)
		},
		"tensor branches": func(x, y *Node) *Node { return Where(LessThan(x, y), x, y) },
		"scalar on true": func(x, y *Node) *Node {
			return Where(GreaterThan(ScalarOne(x.Graph(), x.DType()), x), ScalarOne(x.Graph(), x.DType()), y)
		},
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for name, fn := range fns {
		for _, dims := range [][]int{{3, 7}, {2, 40, 40, 32}, {3, 41, 37, 11}} { // the last: halves not a multiple of 8
			t.Run(fmt.Sprint(name, dims), func(t *testing.T) {
				x32, x64 := randomTensor(rng, dims...)
				y32, y64 := randomTensor(rng, dims...)
				calls, fell := fastdot.Counted().Binary, fastdot.Counted().BinaryFallbacks
				got, err := ExecOnce(b, fn, x32, y32)
				if err != nil {
					t.Fatal(err)
				}
				if fastdot.Counted().Binary == calls || fastdot.Counted().BinaryFallbacks != fell {
					t.Errorf("fastdot ran %d ops and handed %d back to simplego; want every comparison, And and Where",
						fastdot.Counted().Binary-calls, fastdot.Counted().BinaryFallbacks-fell)
				}
				// The reference: simplego's own executors in float64 (fastdot's LogicalAnd takes
				// bools of any float type, so it must be off here too).
				restore := fastdot.DisableForTest()
				want, err := ExecOnce(b, fn, x64, y64)
				restore()
				if err != nil {
					t.Fatal(err)
				}
				g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float64](want)
				for i := range w {
					if float64(g[i]) != float64(float32(w[i])) {
						t.Fatalf("value %d: %g, want %g", i, g[i], w[i])
					}
				}
			})
		}
	}
}

// TestReduceSumMatchesSimplego: float32 sums over consecutive axes (batch norm's leading ones,
// global average pooling's middle ones, all of them) equal simplego's own float32 sums bit for bit
// (same order of additions), on one core and split between two; other axes fall back.
func TestReduceSumMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(13, 14))
	small, _ := randomTensor(rng, 4, 9, 7, 33)
	large, _ := randomTensor(rng, 6, 29, 31, 40) // over 32,768 values: output blocks on two cores
	for _, tc := range []struct {
		x       *tensors.Tensor
		axes    []int
		handled bool
	}{{small, []int{0, 1, 2}, true}, {small, []int{0}, true}, {small, nil, true}, {small, []int{1, 2}, true},
		{small, []int{2}, true}, {small, []int{3}, true}, {large, []int{1, 2}, true}, {large, []int{1}, true},
		{small, []int{0, 2}, false}} {
		x32 := tc.x
		t.Run(fmt.Sprint(tc.x.Shape().Dimensions, tc.axes), func(t *testing.T) {
			fn := func(x *Node) *Node { return ReduceSum(x, tc.axes...) }
			if handled := matchesSimplego(t, b, fn, x32); handled != tc.handled {
				t.Errorf("handled by fastdot: %v, want %v", handled, tc.handled)
			}
		})
	}
}

func TestSliceMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(15, 16))
	x32, _ := randomTensor(rng, 3, 41, 37, 71) // an odd number of rows: split between goroutines mid-row
	for _, tc := range []struct {
		name string
		fn   func(x *Node) *Node
	}{
		{"window view", func(x *Node) *Node {
			return Slice(x, AxisRange(), AxisRange(0, 41).Stride(2), AxisRange(0, 37).Stride(2), AxisRange())
		}},
		{"strided channels", func(x *Node) *Node {
			return Slice(x, AxisRange(), AxisRange(), AxisRange(5, 36), AxisRange(3, 71).Stride(3))
		}},
		{"all", func(x *Node) *Node { return Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange()) }},
		{"narrow rows (4 of 71 channels): gathered a block of rows at a time", func(x *Node) *Node {
			return Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(3, 71).Stride(20))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !matchesSimplego(t, b, tc.fn, x32) {
				t.Error("not handled by fastdot")
			}
		})
	}
}

// TestBroadcastInDimMatchesSimplego: float32 broadcasts (a batch norm's channels, a repeated last
// axis, a scalar, new trailing axes) and bool ones that tile give simplego's bits.
func TestBroadcastInDimMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(17, 18))
	channels, _ := randomTensor(rng, 37)
	column, _ := randomTensor(rng, 3, 1, 41, 1)
	scalar := tensors.FromValue(float32(2.5))
	for _, tc := range []struct {
		name string
		x    *tensors.Tensor
		fn   func(x *Node) *Node
	}{
		// Odd row counts: the goroutines split the output mid-row.
		{"channels over B, H, W", channels, func(x *Node) *Node { return BroadcastToDims(ExpandLeftToRank(x, 4), 3, 41, 37, 37) }},
		{"repeated last axis", column, func(x *Node) *Node { return BroadcastToDims(x, 3, 37, 41, 39) }},
		{"scalar", scalar, func(x *Node) *Node { return BroadcastToDims(x, 3, 41, 37, 11) }},
		{"new trailing axes", channels, func(x *Node) *Node { return ExpandAndBroadcast(x, []int{37, 41, 23}, []int{1, 2}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !matchesSimplego(t, b, tc.fn, tc.x) {
				t.Error("not handled by fastdot")
			}
		})
	}
	// Bools (DeepLift's test of each input against its reference, over inputs and references):
	// handled where the broadcast repeats the operand whole along leading axes.
	bits := make([]bool, 9*7*5)
	for i := range bits {
		bits[i] = rng.IntN(2) == 1
	}
	for _, tc := range []struct {
		name     string
		dims, to []int
		handled  bool
	}{
		{"bools over leading axes", []int{1, 9, 7, 5}, []int{3, 9, 7, 5}, true},
		{"bools along a middle axis", []int{9, 1, 7, 5}, []int{9, 3, 7, 5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := tensors.FromFlatDataAndDimensions(bits, tc.dims...)
			fn := func(x *Node) *Node { return ConvertDType(BroadcastToDims(x, tc.to...), dtypes.Float32) }
			if handled := matchesSimplego(t, b, fn, x); handled != tc.handled {
				t.Errorf("handled by fastdot: %v, want %v", handled, tc.handled)
			}
		})
	}
}

// TestTransposeMatchesSimplego: transpositions as the networks make them (an NCHW batch to
// NHWC, 3 channels last: narrow rows gathered a block at a time; NHWC back to NCHW) and others
// (a matrix, one keeping its last axis), with block counts that split unevenly between the two
// goroutines, equal simplego's bit for bit.
func TestTransposeMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(21, 22))
	nchw, _ := randomTensor(rng, 3, 3, 41, 37)
	nhwc, _ := randomTensor(rng, 3, 41, 37, 5)
	matrix, _ := randomTensor(rng, 301, 203)
	for _, tc := range []struct {
		name string
		x    *tensors.Tensor
		perm []int
	}{
		{"NCHW to NHWC", nchw, []int{0, 2, 3, 1}},
		{"NHWC to NCHW", nhwc, []int{0, 3, 1, 2}},
		{"matrix", matrix, []int{1, 0}},
		{"last axis kept", nhwc, []int{0, 2, 1, 3}},
		{"reversed axes", nhwc, []int{3, 2, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := func(x *Node) *Node { return TransposeAllDims(x, tc.perm...) }
			if !matchesSimplego(t, b, fn, tc.x) {
				t.Error("not handled by fastdot")
			}
		})
	}
}

// TestConcatenateMatchesSimplego: concatenations as the networks make them (a pooling's
// padding along height and along width, a kernel's taps along the leading axis) and along the
// last axis, large enough to split between the goroutines, equal simplego's bit for bit.
func TestConcatenateMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(23, 24))
	for _, tc := range []struct {
		name    string
		axis    int
		a, x, c []int // the three operands' dimensions
	}{
		{"padding along height", 1, []int{3, 1, 37, 40}, []int{3, 41, 37, 40}, []int{3, 2, 37, 40}},
		{"padding along width", 2, []int{3, 43, 1, 40}, []int{3, 43, 37, 40}, []int{3, 43, 1, 40}},
		{"kernel taps", 0, []int{1, 3, 64, 48}, []int{2, 3, 64, 48}, []int{1, 3, 64, 48}},
		{"last axis", 3, []int{5, 7, 9, 3}, []int{5, 7, 9, 11}, []int{5, 7, 9, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := randomTensor(rng, tc.a...)
			x, _ := randomTensor(rng, tc.x...)
			c, _ := randomTensor(rng, tc.c...)
			fn := func(a, x, c *Node) *Node { return Concatenate([]*Node{a, x, c}, tc.axis) }
			if !matchesSimplego(t, b, fn, a, x, c) {
				t.Error("not handled by fastdot")
			}
		})
	}
}

func TestUnaryMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(19, 20))
	x, _ := randomTensor(rng, 3, 41, 37, 11)
	x.MutableFlatData(func(flat any) {
		f := flat.([]float32)
		f[0], f[1], f[2], f[len(f)-1] = 0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(-1))
	})
	for _, tc := range []struct {
		name string
		fn   func(x *Node) *Node
	}{
		{"sign", Sign},
		{"abs", Abs},
		{"abs of an intermediate (in place)", func(x *Node) *Node { return Abs(Neg(x)) }},
		{"sign of an intermediate (in place)", func(x *Node) *Node { return Sign(Neg(x)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !matchesSimplego(t, b, tc.fn, x) {
				t.Error("not handled by fastdot")
			}
		})
	}
}

// matchesSimplego runs fn on args through fastdot's executors and through simplego's own (the
// reference), fails t unless both give the same shape and the same bits, and reports whether
// fastdot handled an op of fn.
func matchesSimplego[F ExecGraphFnOneOutput](t *testing.T, b backends.Backend, fn F, args ...any) (handled bool) {
	t.Helper()
	calls := fastdot.Counted().Binary
	got, err := ExecOnce(b, fn, args...)
	if err != nil {
		t.Fatal(err)
	}
	handled = fastdot.Counted().Binary > calls
	restore := fastdot.DisableForTest()
	want, err := ExecOnce(b, fn, args...)
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
		t.Fatalf("shape %s, simplego's %s", got.Shape(), want.Shape())
	}
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	for i := range g {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Fatalf("value %d of %d differs from simplego's: %v vs %v", i, len(g), g[i], w[i])
		}
	}
	return handled
}

// fastBackend is the pure-Go backend with fastdot's executors; it skips t where the CPU lacks
// AVX2/FMA (simplego's own executors run there) and fails it where fastdot should be installed
// and is not.
func fastBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	if !fastdot.Installed() {
		if sgemm.Available() {
			t.Fatalf("fastdot not installed on an AVX2/FMA CPU: %v", fastdot.Install())
		}
		t.Skip("no AVX2/FMA: simplego's own executors are used")
	}
	return b
}

// inPlaceBackend is fastBackend where the register kernel reads patches and kernels where they
// lie (the AVX-512 kernel: sgemm.InPlaceSlivers); it skips t elsewhere, where every product
// packs its operands and there is nothing to compare with the packed path.
func inPlaceBackend(t testing.TB) backends.Backend {
	t.Helper()
	b := fastBackend(t)
	if ok, _ := sgemm.InPlaceSlivers(); !ok {
		t.Skip("the register kernel reads nothing in place on this CPU (no AVX-512)")
	}
	return b
}
