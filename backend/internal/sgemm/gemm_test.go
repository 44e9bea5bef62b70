package sgemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// layout builds a strided view of a random m x n matrix: row-major, column-major, or embedded
// in a larger array with padding (offset and strides beyond the dimensions).
func layout(rng *rand.Rand, rows, cols int, kind string) (Matrix, func(i, j int) float64) {
	var x Matrix
	switch kind {
	case "rowmajor":
		x = Matrix{Data: make([]float32, rows*cols), RowStride: cols, ColStride: 1}
	case "colmajor":
		x = Matrix{Data: make([]float32, rows*cols), RowStride: 1, ColStride: rows}
	case "padded":
		x = Matrix{Data: make([]float32, 3+rows*(2*cols+1)), Off: 3, RowStride: 2*cols + 1, ColStride: 2}
	}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x, func(i, j int) float64 { return float64(x.at(i, j)) }
}

// kernels returns the register kernels this CPU runs, by name, for tests to run each: useAVX512
// selects one, and the returned function restores the default.
func kernels() ([]string, func()) {
	names := []string{"avx2"}
	if hasAVX512 {
		names = append(names, "avx512")
	}
	return names, func() { useAVX512(hasAVX512) }
}

func TestMulAddMatchesFloat64(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU: the toolkit uses the backend's own DotGeneral")
	}
	names, restore := kernels()
	defer restore()
	for _, name := range names {
		useAVX512(name == "avx512")
		t.Run(name, testMulAddMatchesFloat64)
	}
}

func testMulAddMatchesFloat64(t *testing.T) {
	sizes := []struct{ m, n, k int }{
		{1, 1, 1}, {5, 7, 3}, // plain loops
		{1, 4096, 1000}, {3, 1000, 9216}, {1, 2000, 2000}, // thin rows: axpy / dot
		{1000, 2, 300}, {517, 1, 2048}, // thin columns
		{6, 16, 256}, {12, 32, 512}, {49, 512, 4608}, {3136, 64, 576}, {197, 35, 1001}, {97, 17, 257}, // packed, edges
	}
	kinds := []string{"rowmajor", "colmajor", "padded"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range sizes {
		for _, ka := range kinds {
			for _, kb := range kinds {
				if s.m*s.n*s.k > 10_000_000 && ka != kb && ka != "rowmajor" {
					continue // big shapes: every B layout with row-major A, and both padded
				}
				a, aAt := layout(rng, s.m, s.k, ka)
				b, bAt := layout(rng, s.k, s.n, kb)
				ldc := s.n + 3
				c := make([]float32, 5+s.m*ldc)
				for i := range c {
					c[i] = 1 // MulAdd adds to C
				}
				if err := MulAdd(s.m, s.n, s.k, a, b, c, 5, ldc); err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				for i := range s.m {
					for j := range s.n {
						want, mag := 1.0, 0.0
						for p := range s.k {
							want += aAt(i, p) * bAt(p, j)
							mag += math.Abs(aAt(i, p) * bAt(p, j))
						}
						got := float64(c[5+i*ldc+j])
						worst = max(worst, math.Abs(got-want)/(mag+1))
					}
					for j := s.n; j < ldc && 5+i*ldc+j < len(c); j++ {
						if c[5+i*ldc+j] != 1 {
							t.Fatalf("%v A %s B %s: wrote outside C at row %d column %d", s, ka, kb, i, j)
						}
					}
				}
				if worst > 1e-5 || math.IsNaN(worst) {
					t.Errorf("%v A %s B %s: relative error %.3g", s, ka, kb, worst)
				}
			}
		}
	}
}

// TestKernelsAgree checks that the AVX2 and AVX-512 register kernels, and PackedB's in-place
// reading of A, give the same bits: every element sums the same panels in the same order.
func TestKernelsAgree(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU")
	}
	names, restore := kernels()
	defer restore()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range []struct{ m, n, k int }{{12, 32, 256}, {97, 17, 600}, {200, 64, 1000}, {35, 100, 513}} {
		a, _ := layout(rng, s.m, s.k, "rowmajor")
		b, _ := layout(rng, s.k, s.n, "padded")
		var ref []float32
		for _, name := range names {
			useAVX512(name == "avx512")
			plain := make([]float32, s.m*s.n)
			if err := MulAdd(s.m, s.n, s.k, a, b, plain, 0, s.n); err != nil {
				t.Fatal(err)
			}
			if !Packs(s.m, s.n, s.k, a, b) {
				t.Fatalf("%v: MulAdd does not take the packed kernel", s)
			}
			pb, err := PackB(s.k, s.n, b)
			if err != nil {
				t.Fatal(err)
			}
			serial, err := PackBSerial(s.k, s.n, b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pb.data, serial.data) {
				t.Errorf("%v %s: PackBSerial differs from PackB", s, name)
			}
			serial.Release()
			// Rows in blocks of 7 (edges of every kind), slivers one at a time, panel by panel,
			// the first panel stored over garbage.
			inPlace := make([]float32, s.m*s.n)
			for i := range inPlace {
				inPlace[i] = float32(math.NaN())
			}
			for p0 := 0; p0 < s.k; p0 += KC {
				depth := min(KC, s.k-p0)
				for r0 := 0; r0 < s.m; r0 += 7 {
					rows := min(7, s.m-r0)
					for j := range pb.Slivers() {
						if err := pb.MulAdd(rows, a.Data[r0*s.k+p0:], s.k, p0, depth, j, j+1, inPlace, r0*s.n, s.n, p0 > 0); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			pb.Release()
			if !slices.Equal(plain, inPlace) {
				t.Errorf("%v %s: PackedB.MulAdd differs from MulAdd", s, name)
			}
			if ref == nil {
				ref = plain
			} else if !slices.Equal(ref, plain) {
				t.Errorf("%v: %s differs from %s", s, name, names[0])
			}
		}
	}
}

func TestPackedBRejectsBadPanels(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU")
	}
	b := Matrix{Data: make([]float32, 600*8), RowStride: 8, ColStride: 1}
	pb, err := PackB(600, 8, b)
	if err != nil {
		t.Fatal(err)
	}
	a := make([]float32, 4*600)
	c := make([]float32, 4*8)
	for _, tc := range []struct {
		name              string
		p0, depth, s0, s1 int
	}{
		{"panel not at a multiple of KC", 1, 10, 0, 1},
		{"short panel before the end", 0, 100, 0, 1},
		{"panel past B", 512, 256, 0, 1},
		{"sliver past B", 0, KC, 0, 2},
	} {
		if err := pb.MulAdd(4, a, 600, tc.p0, tc.depth, tc.s0, tc.s1, c, 0, 8, true); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	pb.Release()
	if err := pb.MulAdd(4, a, 600, 0, KC, 0, 1, c, 0, 8, true); err == nil {
		t.Error("use after Release: no error")
	}
}

func TestMulAddRejectsBadViews(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU")
	}
	ok := Matrix{Data: make([]float32, 12), RowStride: 4, ColStride: 1}
	short := Matrix{Data: make([]float32, 11), RowStride: 4, ColStride: 1}
	c := make([]float32, 9)
	cases := []struct {
		name string
		err  error
	}{
		{"A too short", MulAdd(3, 3, 4, short, Matrix{Data: make([]float32, 12), RowStride: 3, ColStride: 1}, c, 0, 3)},
		{"B too short", MulAdd(3, 3, 4, ok, Matrix{Data: make([]float32, 11), RowStride: 3, ColStride: 1}, c, 0, 3)},
		{"C too short", MulAdd(3, 3, 4, ok, Matrix{Data: make([]float32, 12), RowStride: 3, ColStride: 1}, c[:8], 0, 3)},
		{"negative stride", MulAdd(3, 3, 4, Matrix{Data: make([]float32, 12), RowStride: -4, ColStride: 1}, ok, c, 0, 3)},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func BenchmarkMulAdd(b *testing.B) {
	if !available {
		b.Skip("no AVX2/FMA")
	}
	for _, s := range []struct {
		name    string
		m, n, k int
	}{
		{"conv3x3_56x56x64", 3136, 64, 576},
		{"conv3x3_7x7x512", 49, 512, 4608},
		{"vgg_conv_224x224x64", 50176, 64, 576},
		{"fc6_b1", 1, 4096, 25088},
	} {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			a, _ := layout(rng, s.m, s.k, "rowmajor")
			bm, _ := layout(rng, s.k, s.n, "rowmajor")
			if s.name == "fc6_b1" {
				bm, _ = layout(rng, s.k, s.n, "colmajor")
			}
			c := make([]float32, s.m*s.n)
			for b.Loop() {
				_ = MulAdd(s.m, s.n, s.k, a, bm, c, 0, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestWorkersChangeDuringMultiply: changing the number of workers while multiplies run neither
// races (run with -race) nor overruns a per-worker buffer, and results stay exact.
func TestWorkersChangeDuringMultiply(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU")
	}
	defer SetWorkers(0)
	rng := rand.New(rand.NewPCG(3, 4))
	a, at := layout(rng, 97, 257, "rowmajor")
	b, bt := layout(rng, 257, 67, "rowmajor")
	done := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
				SetWorkers(1 + i%8)
			}
		}
	}()
	for range 20 {
		c := make([]float32, 97*67)
		if err := MulAdd(97, 67, 257, a, b, c, 0, 67); err != nil {
			t.Fatal(err)
		}
		for _, ij := range [][2]int{{0, 0}, {50, 33}, {96, 66}} {
			want := 0.0
			for p := range 257 {
				want += at(ij[0], p) * bt(p, ij[1])
			}
			if got := float64(c[ij[0]*67+ij[1]]); math.Abs(got-want) > 1e-3*(1+math.Abs(want)) {
				t.Fatalf("C[%d,%d] = %g, want %g", ij[0], ij[1], got, want)
			}
		}
	}
	close(done)
}

// TestMulAcc compares MulAcc with its definition in float64, for lengths around the kernel's
// 32- and 8-float steps.
func TestMulAcc(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 70, 1000} {
		x, w, y := make([]float32, n), make([]float32, n), make([]float32, n)
		want := make([]float64, n)
		for i := range n {
			x[i], w[i], y[i] = float32(i%13)-6, float32(i%7)*0.5, float32(i%5)
			want[i] = float64(y[i]) + float64(x[i])*float64(w[i])
		}
		MulAcc(x, w, y)
		for i := range n {
			if math.Abs(float64(y[i])-want[i]) > 1e-5 {
				t.Fatalf("n=%d: y[%d] = %g, want %g", n, i, y[i], want[i])
			}
		}
	}
}

// TestElementwise compares the vector kernels with Go's scalar operations bit for bit, for
// lengths around their 32- and 8-float steps, in place too.
func TestElementwise(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 70, 1000} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range n {
			a[i], b[i] = float32(i%13)*0.37-2, float32(i%7)*1.3-4
		}
		for _, op := range []byte{'+', '-', '*'} {
			o := make([]float32, n)
			Elementwise(op, a, b, o)
			os := make([]float32, n)
			ElementwiseScalar(op, a, 1.7, os)
			in := slices.Clone(a)
			Elementwise(op, in, b, in)
			for i := range n {
				if o[i] != scalarOp(op, a[i], b[i]) || in[i] != o[i] || os[i] != scalarOp(op, a[i], 1.7) {
					t.Fatalf("n=%d op %c: element %d: %g, %g in place, %g with a scalar", n, op, i, o[i], in[i], os[i])
				}
			}
		}
	}
}

// TestMaxMinScalar: the max and min kernels equal Go's max and min bit for bit, NaN, infinities
// and both zeros included, for every zero and a non-zero scalar.
func TestMaxMinScalar(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	vals := []float32{nan, inf, -inf, 0, negZero, 1, -1, 6, 7, -6, 5.9999, 3e-39}
	var a []float32
	for range 5 {
		a = append(a, vals...)
	}
	for _, s := range []float32{0, negZero, 6, -1, inf} {
		for _, op := range []byte{'M', 'm'} {
			o := make([]float32, len(a))
			ElementwiseScalar(op, a, s, o)
			for i := range a {
				want := scalarOp(op, a[i], s)
				if math.Float32bits(o[i]) != math.Float32bits(want) && !(o[i] != o[i] && want != want) {
					t.Fatalf("%c(%g, %g) = %g, want %g", op, a[i], s, o[i], want)
				}
			}
		}
	}
}

// TestPackBRuns: a matrix whose rows lie in runs at arbitrary offsets (a gradient's kernel,
// one run per tap, transposed) packs to the same panels as the same rows copied into one
// row-major matrix, for chunks that start and end inside runs and panels; the products match a
// float64 reference.
func TestPackBRuns(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const run, runs, n, m = 100, 9, 43, 13
	// Runs stored transposed (rows 1 apart, columns colStride apart), in shuffled order, with
	// a gap: run r at offs[r].
	colStride := run*runs + 7
	data := make([]float32, n*colStride)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	offs := make([]int, runs)
	for r, slot := range rng.Perm(runs) {
		offs[r] = 7 + slot*run
	}
	b := Runs{Data: data, Offs: offs, Run: run, RowStride: 1, ColStride: colStride}
	at := func(p, j int) float32 { return data[offs[p/run]+p%run+j*colStride] }
	for _, chunk := range []struct{ p0, k int }{{0, run * runs}, {0, 2 * run}, {150, 500}, {37, 1}, {899, 1}} {
		dense := make([]float32, chunk.k*n)
		for p := range chunk.k {
			for j := range n {
				dense[p*n+j] = at(chunk.p0+p, j)
			}
		}
		want, err := PackB(chunk.k, n, Matrix{Data: dense, RowStride: n, ColStride: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, err := PackBRuns(chunk.p0, chunk.k, n, b)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.data[:len(want.data)], want.data) {
			t.Errorf("rows [%d, %d): packed panels differ from the copied matrix's", chunk.p0, chunk.p0+chunk.k)
		}
		a := make([]float32, m*chunk.k)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		c := make([]float32, m*n)
		for p0 := 0; p0 < chunk.k; p0 += KC {
			if err := got.MulAdd(m, a[p0:], chunk.k, p0, min(KC, chunk.k-p0), 0, got.Slivers(), c, 0, n, p0 > 0); err != nil {
				t.Fatal(err)
			}
		}
		for i := range m {
			for j := range n {
				var ref float64
				for p := range chunk.k {
					ref += float64(a[i*chunk.k+p]) * float64(at(chunk.p0+p, j))
				}
				if d := math.Abs(float64(c[i*n+j]) - ref); d > 1e-4*math.Sqrt(float64(chunk.k)) {
					t.Fatalf("rows [%d, %d): C[%d, %d] = %v, float64 %v", chunk.p0, chunk.p0+chunk.k, i, j, c[i*n+j], ref)
				}
			}
		}
		want.Release()
		got.Release()
	}
	for _, bad := range []struct {
		name  string
		p0, k int
		b     Runs
	}{
		{"rows past the last run", 850, 100, b},
		{"a run past the data", 0, 900, Runs{Data: data[:len(data)-1], Offs: offs, Run: run, RowStride: 1, ColStride: colStride}},
		{"no runs", 0, 10, Runs{Data: data, Run: run, RowStride: 1, ColStride: colStride}},
		{"empty runs", 0, 10, Runs{Data: data, Offs: offs, RowStride: 1, ColStride: colStride}},
	} {
		if _, err := PackBRuns(bad.p0, bad.k, n, bad.b); err == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}

// BenchmarkPackB packs a convolution's kernel matrix [k, n] as a forward pass finds it (row-major,
// columns 1 apart: a copy per panel row) and as an input gradient finds it (the forward kernel
// with its channel axes swapped: rows 1 apart, columns k apart, a transposition).
func BenchmarkPackB(b *testing.B) {
	if !available {
		b.Skip("no AVX2/FMA")
	}
	for _, s := range []struct {
		name string
		k, n int
	}{
		{"conv3x3_256", 2304, 256},
		{"conv1x1_1024x256", 1024, 256},
		{"conv3x3_512", 4608, 512},
	} {
		data := make([]float32, s.k*s.n)
		for i := range data {
			data[i] = float32(i % 1000)
		}
		for _, l := range []struct {
			name string
			m    Matrix
		}{
			{"rowmajor", Matrix{Data: data, RowStride: s.n, ColStride: 1}},
			{"transposed", Matrix{Data: data, RowStride: 1, ColStride: s.k}},
		} {
			b.Run(s.name+"/"+l.name, func(b *testing.B) {
				for b.Loop() {
					pb, err := PackB(s.k, s.n, l.m)
					if err != nil {
						b.Fatal(err)
					}
					pb.Release()
				}
				b.ReportMetric(float64(4*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

// TestPackBColumnRuns: a matrix whose columns lie in runs at arbitrary offsets (a strided
// convolution's kernel taps side by side) packs to the same panels as the same columns copied
// into one row-major matrix: runs narrower than a sliver, wider, and not a multiple of 8 (the
// transposing copy's width), rows 1 apart (the input gradient's layout) or columns 1 apart.
func TestPackBColumnRuns(t *testing.T) {
	if !available {
		t.Skip("no AVX2/FMA on this CPU")
	}
	names, restore := kernels()
	defer restore()
	for _, kernel := range names {
		useAVX512(kernel == "avx512")
		for _, tc := range []struct {
			name           string
			k, run, runs   int
			rowsContiguous bool
		}{
			{"stem: 3 columns a run", 300, 3, 49, true},
			{"40 columns a run", 517, 40, 9, true},
			{"64 columns a run", 64, 64, 4, true},
			{"columns contiguous", 270, 37, 5, false},
		} {
			rng := rand.New(rand.NewPCG(7, 8))
			n := tc.run * tc.runs
			// Run r holds a [k, run] block; blocks in shuffled slots with a gap.
			block := tc.k*tc.run + 5
			data := make([]float32, tc.runs*block+11)
			for i := range data {
				data[i] = float32(rng.NormFloat64())
			}
			rs, cs := 1, tc.k
			if !tc.rowsContiguous {
				rs, cs = tc.run, 1
			}
			offs := make([]int, tc.runs)
			for r, slot := range rng.Perm(tc.runs) {
				offs[r] = 11 + slot*block
			}
			dense := make([]float32, tc.k*n)
			for p := range tc.k {
				for j := range n {
					dense[p*n+j] = data[offs[j/tc.run]+j%tc.run*cs+p*rs]
				}
			}
			want, err := PackB(tc.k, n, Matrix{Data: dense, RowStride: n, ColStride: 1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := PackBColumnRuns(tc.k, n, Runs{Data: data, Offs: offs, Run: tc.run, RowStride: rs, ColStride: cs})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.data[:len(want.data)], want.data) {
				t.Errorf("%s, %s: packed panels differ from the copied matrix's", kernel, tc.name)
			}
			want.Release()
			got.Release()
			if _, err := PackBColumnRuns(tc.k, n+1, Runs{Data: data, Offs: offs, Run: tc.run, RowStride: rs, ColStride: cs}); err == nil {
				t.Errorf("%s: a column past the last run: no error", tc.name)
			}
			// The slot last in data ends 6 floats before its end.
			if _, err := PackBColumnRuns(tc.k, n, Runs{Data: data[:len(data)-6], Offs: offs, Run: tc.run, RowStride: rs, ColStride: cs}); err == nil {
				t.Errorf("%s: a run past the data: no error", tc.name)
			}
		}
	}
}

// TestMulAddSegmentsMatchesGathered: slivers whose rows are read in runs where they lie give the
// bits of the same rows gathered into A, whatever the runs' lengths, offsets and (overlapping)
// row strides, stored or accumulated, for edge slivers of columns, beside gathered slivers; and
// bad runs are refused.
func TestMulAddSegmentsMatchesGathered(t *testing.T) {
	ok, rows := InPlaceSlivers()
	if !ok {
		t.Skip("no AVX-512 kernel: slivers are not read in runs here")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 200 {
		m := rows*(1+rng.IntN(4)) + rng.IntN(rows)
		n := 1 + rng.IntN(70)
		k := 1 + rng.IntN(600)
		p0 := rng.IntN((k+KC-1)/KC) * KC
		depth := min(KC, k-p0)
		bm, _ := layout(rng, k, n, "rowmajor")
		src := make([]float32, 4000)
		for j := range src {
			src[j] = float32(rng.NormFloat64())
		}
		lds := rng.IntN(40)
		a := make([]float32, m*depth)
		for j := range a {
			a[j] = float32(rng.NormFloat64())
		}
		segs := make([][]Segment, m/rows)
		for s := range segs {
			if rng.IntN(3) == 0 {
				continue // gathered
			}
			for col := 0; col < depth; {
				g := Segment{Len: min(depth-col, 1+rng.IntN(depth)), Off: rng.IntN(len(src) - (rows-1)*lds - depth)}
				if len(segs[s]) == MaxSegments-1 {
					g.Len = depth - col
				}
				segs[s] = append(segs[s], g)
				for r := range rows {
					copy(a[(s*rows+r)*depth+col:(s*rows+r)*depth+col+g.Len], src[g.Off+r*lds:])
				}
				col += g.Len
			}
		}
		pb, err := PackB(k, n, bm)
		if err != nil {
			t.Fatal(err)
		}
		accumulate := rng.IntN(2) == 0
		want, got := make([]float32, m*n), make([]float32, m*n)
		for j := range want {
			want[j] = float32(j % 7)
			got[j] = want[j]
		}
		if err := pb.MulAdd(m, a, depth, p0, depth, 0, pb.Slivers(), want, 0, n, accumulate); err != nil {
			t.Fatal(err)
		}
		for s, runs := range segs { // the runs, not A, must hold these slivers' rows
			if runs != nil {
				clear(a[s*rows*depth : (s+1)*rows*depth])
			}
		}
		if err := pb.MulAddSegments(m, a, depth, src, lds, segs, p0, depth, 0, pb.Slivers(), got, 0, n, accumulate); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("case %d (m %d, n %d, k %d, panel %d, stride %d): runs differ from the gathered rows", i, m, n, k, p0, lds)
		}
		pb.Release()
	}
	pb, err := PackB(10, 8, Matrix{Data: make([]float32, 80), RowStride: 8, ColStride: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Release()
	c := make([]float32, rows*8)
	a := make([]float32, rows*10)
	for _, bad := range [][]Segment{
		{{Off: 0, Len: 9}},                    // short of the panel
		{{Off: 0, Len: 5}, {Off: 0, Len: 6}},  // past it
		{{Off: 95, Len: 10}},                  // past the source
		{{Off: -1, Len: 10}},                  // before it
		{{Off: 0, Len: 0}, {Off: 0, Len: 10}}, // an empty run
	} {
		if err := pb.MulAddSegments(rows, a, 10, make([]float32, 100), 0, [][]Segment{bad}, 0, 10, 0, 1, c, 0, 8, false); err == nil {
			t.Errorf("runs %v: no error", bad)
		}
	}
}
