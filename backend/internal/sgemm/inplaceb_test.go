package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestInPlaceBMatchesPacked multiplies by B read where it lies and by the same rows packed: the
// products must agree bit for bit (with rows of A in place, edge rows and runs of segments), and
// with a float64 reference to rounding.
func TestInPlaceBMatchesPacked(t *testing.T) {
	ok, rows := InPlaceSlivers()
	if !ok {
		t.Skip("no AVX-512 kernel: B is always packed here")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for i := range 150 {
		n := 32 * (1 + rng.IntN(5))
		run := 1 + rng.IntN(700)
		runs := 1 + rng.IntN(3)
		ldb := n + rng.IntN(3)*7
		p0 := rng.IntN(runs)*run + rng.IntN(run)
		r := p0 / run
		k := 1 + rng.IntN((r+1)*run-p0) // within p0's run
		data := make([]float32, 5+runs*run*ldb)
		for j := range data {
			data[j] = float32(rng.NormFloat64())
		}
		offs := make([]int, runs)
		for q, slot := range rng.Perm(runs) {
			offs[q] = 5 + slot*run*ldb
		}
		b := Runs{Data: data, Offs: offs, Run: run, RowStride: ldb, ColStride: 1}
		m := 1 + rng.IntN(5*rows)
		lda := k + rng.IntN(3)
		a := make([]float32, m*lda)
		for j := range a {
			a[j] = float32(rng.NormFloat64())
		}
		// Some whole slivers read in two runs of src (a copy of their rows of A).
		src := slices.Clone(a)
		segs := make([][]Segment, m/rows)
		packed, err := PackBRuns(p0, k, n, b)
		if err != nil {
			t.Fatal(err)
		}
		inPlace, ok := InPlaceB(p0, k, n, b)
		if !ok {
			t.Fatalf("case %d: B (%d rows from %d, %d columns, stride %d) not read in place", i, k, p0, n, ldb)
		}
		accumulate := rng.IntN(2) == 0
		want, got := make([]float32, m*n), make([]float32, m*n)
		for j := range want {
			want[j] = float32(j % 5)
			got[j] = want[j]
		}
		for pc := 0; pc < k; pc += KC {
			depth := min(KC, k-pc)
			for s := range segs {
				segs[s] = nil
				if rng.IntN(2) == 0 {
					cut := rng.IntN(depth)
					segs[s] = []Segment{{Off: s*rows*lda + pc, Len: depth - cut}, {Off: s*rows*lda + pc + depth - cut, Len: cut}}
					if cut == 0 {
						segs[s] = segs[s][:1]
					}
				}
			}
			add := accumulate || pc > 0
			if err := packed.MulAdd(m, a[pc:], lda, pc, depth, 0, packed.Slivers(), want, 0, n, add); err != nil {
				t.Fatal(err)
			}
			if err := inPlace.MulAddSegments(m, a[pc:], lda, src, lda, segs, pc, depth, 0, inPlace.Slivers(), got, 0, n, add); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("case %d (m %d, n %d, k %d from %d, stride %d): B in place differs from B packed", i, m, n, k, p0, ldb)
		}
		for ii := range m {
			for j := range n {
				ref := 0.0
				if accumulate {
					ref = float64((ii*n + j) % 5)
				}
				for p := range k {
					q := (p0 + p) / run
					ref += float64(a[ii*lda+p]) * float64(data[offs[q]+(p0+p-q*run)*ldb+j])
				}
				if d := math.Abs(float64(got[ii*n+j]) - ref); d > 1e-4*math.Sqrt(float64(k)+1) {
					t.Fatalf("case %d: C[%d, %d] = %v, float64 %v", i, ii, j, got[ii*n+j], ref)
				}
			}
		}
		packed.Release()
		inPlace.Release()
	}
	// What the kernel cannot read in place is refused.
	data := make([]float32, 64*100)
	for _, bad := range []struct {
		name     string
		p0, k, n int
		b        Runs
	}{
		{"n not a multiple of 32", 0, 10, 40, Runs{Data: data, Offs: []int{0}, Run: 100, RowStride: 64, ColStride: 1}},
		{"columns strided", 0, 10, 32, Runs{Data: data, Offs: []int{0}, Run: 100, RowStride: 1, ColStride: 100}},
		{"rows across two runs", 40, 20, 32, Runs{Data: data, Offs: []int{0, 3200}, Run: 50, RowStride: 64, ColStride: 1}},
		{"rows past the data", 90, 20, 64, Runs{Data: data, Offs: []int{0}, Run: 200, RowStride: 64, ColStride: 1}},
		{"stride under a row", 0, 10, 64, Runs{Data: data, Offs: []int{0}, Run: 100, RowStride: 32, ColStride: 1}},
		{"no rows", 0, 0, 32, Runs{Data: data, Offs: []int{0}, Run: 100, RowStride: 64, ColStride: 1}},
	} {
		if _, ok := InPlaceB(bad.p0, bad.k, bad.n, bad.b); ok {
			t.Errorf("%s: read in place", bad.name)
		}
	}
}

// BenchmarkInPlaceB times products of few rows (ResNet-50's convolutions at batch 1: 49 to 784
// positions) on one goroutine, with B packed first and read where it lies.
func BenchmarkInPlaceB(b *testing.B) {
	if ok, _ := InPlaceSlivers(); !ok {
		b.Skip("no AVX-512 kernel")
	}
	for _, sz := range []struct{ m, k, n int }{{49, 4608, 512}, {196, 2304, 256}, {784, 1152, 128}, {49, 2048, 512}, {49, 512, 2048}, {3136, 576, 64}, {3136, 1152, 128}, {25088, 576, 64}} {
		rng := rand.New(rand.NewPCG(1, 2))
		bm, _ := layout(rng, sz.k, sz.n, "rowmajor")
		a := make([]float32, sz.m*sz.k)
		c := make([]float32, sz.m*sz.n)
		runs := oneRun(sz.k, bm)
		mul := func(pb *PackedB, pc int) {
			if err := pb.MulAdd(sz.m, a[pc:], sz.k, 0, min(KC, sz.k-pc), 0, pb.Slivers(), c, 0, sz.n, pc > 0); err != nil {
				b.Fatal(err)
			}
		}
		for _, way := range []string{"packed", "inplace"} {
			b.Run(fmt.Sprintf("%s/m%d_k%d_n%d", way, sz.m, sz.k, sz.n), func(b *testing.B) {
				for range b.N {
					for pc := 0; pc < sz.k; pc += KC {
						var pb *PackedB
						if way == "packed" {
							var err error
							if pb, err = packBRuns(1, pc, min(KC, sz.k-pc), sz.n, runs); err != nil {
								b.Fatal(err)
							}
						} else {
							pb, _ = InPlaceB(pc, min(KC, sz.k-pc), sz.n, runs)
						}
						mul(pb, pc)
						pb.Release()
					}
				}
			})
		}
	}
}
