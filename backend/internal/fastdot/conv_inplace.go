package fastdot

import (
	"sync/atomic"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// Patches read where they lie (an implicit im2col). The patch of output position (y, x) is, per
// kernel row, a run of kW*kI consecutive inputs (runsLayout), and the runs of consecutive
// positions along an image row are stride*kI apart: a sliver of the register kernel's rows that
// stays in one image row and away from its padding is a strided matrix already, per kernel row.
// sgemm reads such slivers in runs, with the sums of the gathered patches; only the other
// slivers (across image rows, at the edges) are gathered.

// gatherForTest makes every convolution gather its patches: tests compare the two.
var gatherForTest atomic.Bool

// inPlaceCalls counts the slivers of patches read in place.
var inPlaceCalls atomic.Int64

// sliverRuns holds the runs of a block's row slivers: runs[s] is sliver s's, nil if gathered.
type sliverRuns struct {
	runs    [][]sgemm.Segment
	backing []sgemm.Segment
}

func newSliverRuns(slivers int) *sliverRuns {
	return &sliverRuns{runs: make([][]sgemm.Segment, slivers), backing: make([]sgemm.Segment, slivers*sgemm.MaxSegments)}
}

// patchesInPlace prepares the patches of output rows [r, r+rows) for reduction columns [k0,
// k0+cols): the runs of every whole sliver of sliver rows that can be read in place, and the
// other rows gathered into dst (rows x cols, row-major) as gather writes them. It returns the
// runs per sliver, nil for the gathered ones.
func (c *conv2D) patchesInPlace(dst []float32, sr *sliverRuns, r, rows, k0, cols, sliver int) [][]sgemm.Segment {
	slivers := rows / sliver
	runs := sr.runs[:slivers]
	gathered := 0 // rows before this one are gathered or read in place
	inPlace := 0
	for s := range slivers {
		m := sgemm.MaxSegments
		run, ok := c.sliverRuns(sr.backing[s*m:s*m:(s+1)*m], r+s*sliver, sliver, k0, cols)
		if !ok {
			runs[s] = nil
			continue
		}
		runs[s] = run
		inPlace++
		if first := s * sliver; gathered < first {
			c.gather(dst[gathered*cols:first*cols], r+gathered, first-gathered, k0, cols, 0)
		}
		gathered = (s + 1) * sliver
	}
	if gathered < rows {
		c.gather(dst[gathered*cols:rows*cols], r+gathered, rows-gathered, k0, cols, 0)
	}
	inPlaceCalls.Add(int64(inPlace))
	return runs
}

// sliverRuns appends to runs the runs of output rows [r, r+rows) for reduction columns [k0,
// k0+cols), one per kernel row (Segment offsets into c.in, rows stride*kI apart); false if the
// rows leave their image row, or a kernel row reaches padding, or there are too many runs.
func (c *conv2D) sliverRuns(runs []sgemm.Segment, r, rows, k0, cols int) ([]sgemm.Segment, bool) {
	b, yx := r/(c.outH*c.outW), r%(c.outH*c.outW)
	y, x := yx/c.outW, yx%c.outW
	ix := x*c.stride[1] - c.lo[1] // the input column of the first row's tap kx = 0
	if x+rows > c.outW || ix < 0 || (x+rows-1)*c.stride[1]-c.lo[1]+c.kW > c.inW {
		return nil, false
	}
	run := c.kW * c.kI
	for ky := k0 / run; ky*run < k0+cols; ky++ {
		c0, c1 := max(k0, ky*run), min(k0+cols, (ky+1)*run)
		iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
		if iy < 0 || iy >= c.inH || len(runs) == cap(runs) {
			return nil, false
		}
		runs = append(runs, sgemm.Segment{Off: b*c.inSB + iy*c.inSH + ix*c.kI + c0 - ky*run, Len: c1 - c0})
	}
	return runs, true
}
