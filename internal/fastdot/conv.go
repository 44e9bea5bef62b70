package fastdot

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"github.com/gradcam-go/gradcam/internal/sgemm"
)

// ConvCalls counts ConvGenerals run here; ConvFallbacks those handed back to simplego.
var ConvCalls, ConvFallbacks atomic.Int64

// convOriginal is simplego's own ConvGeneral executor.
var convOriginal executor

// convParams is what execConvGeneral needs of simplego's convNode.
type convParams struct {
	axes                    backends.ConvolveAxesConfig
	strides                 []int
	paddings                [][2]int
	inputDil, kernelDil     []int
	channelGroups, batchGrp int
}

// field reads the unexported field name of struct value v as a T; false if it is missing or of
// another type.
func field[T any](v reflect.Value, name string) (T, bool) {
	var zero T
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() || !f.CanAddr() {
		return zero, false
	}
	return *(*T)(unsafe.Pointer(f.UnsafeAddr())), true
}

// convFieldNames are the convNode fields read; a test renames one to force the fallback.
var convFieldNames = [7]string{"axes", "strides", "paddings", "inputDilations", "kernelDilations", "channelGroupCount", "batchGroupCount"}

func convNodeParams(n *simplego.Node) (convParams, bool) {
	d := reflect.ValueOf(n).Elem().FieldByName("data")
	if !d.IsValid() || d.IsNil() {
		return convParams{}, false
	}
	d = d.Elem()
	if d.Kind() != reflect.Pointer || d.Elem().Kind() != reflect.Struct {
		return convParams{}, false
	}
	d = d.Elem()
	var p convParams
	var ok [7]bool
	p.axes, ok[0] = field[backends.ConvolveAxesConfig](d, convFieldNames[0])
	p.strides, ok[1] = field[[]int](d, convFieldNames[1])
	p.paddings, ok[2] = field[[][2]int](d, convFieldNames[2])
	p.inputDil, ok[3] = field[[]int](d, convFieldNames[3])
	p.kernelDil, ok[4] = field[[]int](d, convFieldNames[4])
	p.channelGroups, ok[5] = field[int](d, convFieldNames[5])
	p.batchGrp, ok[6] = field[int](d, convFieldNames[6])
	for _, o := range ok {
		if !o {
			return convParams{}, false
		}
	}
	return p, true
}

func execConvGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	out, handled, err := tryConvGeneral(backend, node, inputs)
	if handled {
		ConvCalls.Add(1)
		return out, err
	}
	ConvFallbacks.Add(1)
	return convOriginal(backend, node, inputs, owned)
}

// conv2D is one ConvGeneral with two spatial axes, its operands as flat data and strides.
type conv2D struct {
	in, ker, out []float32

	batch, inC, inH, inW       int // input: batch, channels, spatial (undilated)
	inSB, inSC, inSH, inSW     int // input strides
	kI, kO, kH, kW             int // kernel: input channels (per group), output channels, spatial
	kSI, kSO, kSH, kSW         int // kernel strides
	outH, outW                 int
	outSB, outSC, outSH, outSW int

	stride, lo, inDil, kDil [2]int
	groups                  int
}

func tryConvGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool, error) {
	if len(inputs) != 2 {
		return nil, false, nil
	}
	in, ok1 := flat(inputs[0]).([]float32)
	ker, ok2 := flat(inputs[1]).([]float32)
	if !ok1 || !ok2 {
		return nil, false, nil
	}
	p, ok := convNodeParams(node)
	if !ok || p.batchGrp > 1 || len(p.axes.InputSpatial) != 2 || len(p.axes.KernelSpatial) != 2 || len(p.axes.OutputSpatial) != 2 {
		return nil, false, nil
	}
	inShape, err1 := backend.BufferShape(inputs[0])
	kerShape, err2 := backend.BufferShape(inputs[1])
	outShape := nodeShape(node)
	if err1 != nil || err2 != nil || inShape.Rank() != 4 || kerShape.Rank() != 4 || outShape.Rank() != 4 {
		return nil, false, nil
	}
	ax := p.axes
	id, kd, od := inShape.Dimensions, kerShape.Dimensions, outShape.Dimensions
	is, ks, os := inShape.Strides(), kerShape.Strides(), outShape.Strides()
	c := conv2D{in: in, ker: ker,
		batch: id[ax.InputBatch], inC: id[ax.InputChannels], inH: id[ax.InputSpatial[0]], inW: id[ax.InputSpatial[1]],
		inSB: is[ax.InputBatch], inSC: is[ax.InputChannels], inSH: is[ax.InputSpatial[0]], inSW: is[ax.InputSpatial[1]],
		kI: kd[ax.KernelInputChannels], kO: kd[ax.KernelOutputChannels], kH: kd[ax.KernelSpatial[0]], kW: kd[ax.KernelSpatial[1]],
		kSI: ks[ax.KernelInputChannels], kSO: ks[ax.KernelOutputChannels], kSH: ks[ax.KernelSpatial[0]], kSW: ks[ax.KernelSpatial[1]],
		outH: od[ax.OutputSpatial[0]], outW: od[ax.OutputSpatial[1]],
		outSB: os[ax.OutputBatch], outSC: os[ax.OutputChannels], outSH: os[ax.OutputSpatial[0]], outSW: os[ax.OutputSpatial[1]],
		groups: max(p.channelGroups, 1),
	}
	for i := range 2 {
		c.stride[i], c.inDil[i], c.kDil[i] = 1, 1, 1
		if i < len(p.strides) && p.strides[i] > 0 {
			c.stride[i] = p.strides[i]
		}
		if i < len(p.paddings) {
			c.lo[i] = p.paddings[i][0]
		}
		if i < len(p.inputDil) && p.inputDil[i] > 0 {
			c.inDil[i] = p.inputDil[i]
		}
		if i < len(p.kernelDil) && p.kernelDil[i] > 0 {
			c.kDil[i] = p.kernelDil[i]
		}
	}
	if od[ax.OutputBatch] != c.batch || od[ax.OutputChannels] != c.kO || c.kO%c.groups != 0 || c.kI*c.groups != c.inC {
		return nil, false, nil
	}
	outBuf := backend.NewBuffer(outShape)
	out, ok := flat(outBuf).([]float32)
	if !ok || len(out) != outShape.Size() {
		return nil, true, fmt.Errorf("fastdot: output buffer of ConvGeneral %s is not a []float32 of %d", outShape, outShape.Size())
	}
	c.out = out
	var err error
	switch {
	case c.groups > 1 && c.kI == 1 && c.kO == c.groups:
		c.depthwise()
	case c.groups == 1 && (c.inDil[0] > 1 || c.inDil[1] > 1) && c.stride == [2]int{1, 1}:
		err = c.transposed()
	default:
		err = c.im2col()
	}
	if err != nil {
		return nil, true, fmt.Errorf("fastdot: ConvGeneral %s * %s: %w", inShape, kerShape, err)
	}
	return outBuf, true, nil
}

// Tiles: the patches of a tile of output positions, for a chunk of the reduction, are gathered
// into a scratch matrix of at most tileFloats values and multiplied into the output by sgemm.
const (
	tileFloats = 1 << 20
	maxKChunk  = 4608 // VGG's 3x3x512: whole for every forward convolution of the zoo
)

var scratchPool sync.Pool // *[]float32

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// im2col computes the convolution group by group as sgemm products of gathered patch tiles [rows
// = output positions (b, y, x), columns = reduction (ky, kx, ci)] with the kernel matrix.
func (c *conv2D) im2col() error {
	m := c.batch * c.outH * c.outW
	n := c.kO / c.groups
	k := c.kH * c.kW * c.kI
	clear(c.out)
	if m == 0 || n == 0 || k == 0 {
		return nil
	}
	// Output rows are one strided matrix when (b, y, x) merge into one index and channels are
	// contiguous or at least evenly strided: C = out[row*ldc + col*1].
	direct := c.outSC == 1 && c.outSW == c.kO && c.outSH == c.outW*c.outSW && c.outSB == c.outH*c.outSH
	kc := min(k, maxKChunk)
	mt := max(64, min(m, tileFloats/kc))
	mt = min(mt, m)
	patches := getScratch(mt * kc)
	defer scratchPool.Put(patches)
	var tmp *[]float32
	if !direct {
		tmp = getScratch(mt * n)
		defer scratchPool.Put(tmp)
	}
	// The kernel as a [k, n] matrix of group g: one strided view where (ky, kx, ci) merge into
	// one index (HWIO, the forward pass), else one view per kernel tap (a gradient's reversed
	// kernel with its channels swapped), which sgemm packs as it multiplies.
	merged := c.kSW == c.kI*c.kSI && c.kSH == c.kW*c.kSW
	ker, kSI, kSO, kSW, kSH := c.ker, c.kSI, c.kSO, c.kSW, c.kSH
	for g := range c.groups {
		goff := g * n * c.kSO
		pack := !merged && (c.kI < 64 || c.kH*c.kW > 64)
		if pack {
			// Per-tap products would be too small for sgemm's packed path (few channels per
			// tap, or a kernel gradient's thousands of taps, the output's positions, over few
			// rows): copy the group's kernel as one [k, n] matrix instead.
			packed := make([]float32, k*n)
			for tap := range c.kH * c.kW {
				for ci := range c.kI {
					row := packed[(tap*c.kI+ci)*n : (tap*c.kI+ci+1)*n]
					src := goff + tap/c.kW*c.kSH + tap%c.kW*c.kSW + ci*c.kSI
					for co := range row {
						row[co] = c.ker[src+co*c.kSO]
					}
				}
			}
			ker, kSI, kSO, kSW, kSH, goff = packed, n, 1, c.kI*n, c.kW*c.kI*n, 0
		}
		groupMerged := merged || pack
		for r0 := 0; r0 < m; r0 += mt {
			rows := min(mt, m-r0)
			var cData []float32
			var cOff, ldc int
			if direct {
				cData, cOff, ldc = c.out, r0*c.kO+g*n, c.kO
			} else {
				cData, cOff, ldc = (*tmp)[:rows*n], 0, n
				clear(cData)
			}
			for k0 := 0; k0 < k; k0 += kc {
				cols := min(kc, k-k0)
				c.gather(*patches, r0, rows, k0, cols, g)
				// Segments of the chunk: all of it, or the part of each tap it holds.
				for s := k0; s < k0+cols; {
					tap, ci0 := s/c.kI, s%c.kI
					seg := k0 + cols - s
					if !groupMerged {
						seg = min(seg, c.kI-ci0)
					}
					a := sgemm.Matrix{Data: *patches, Off: s - k0, RowStride: cols, ColStride: 1}
					b := sgemm.Matrix{Data: ker, Off: tap/c.kW*kSH + tap%c.kW*kSW + ci0*kSI + goff,
						RowStride: kSI, ColStride: kSO}
					if err := sgemm.MulAdd(rows, n, seg, a, b, cData, cOff, ldc); err != nil {
						return err
					}
					s += seg
				}
			}
			if !direct {
				c.scatter(cData, r0, rows, g, n)
			}
		}
	}
	return nil
}

// transposed computes a convolution of a dilated input (the input gradient of a strided
// convolution) by scattering instead of gathering: each input position times each kernel tap
// adds into the one output position it reaches, so the dilation's holes (three quarters of the
// patches for a stride of 2) cost nothing. Output position i of a tap k reads dilated input
// position i + k*kDil - lo, which holds input p where that equals p*inDil.
func (c *conv2D) transposed() error {
	n := c.kO
	m := c.batch * c.inH * c.inW
	clear(c.out)
	if m == 0 || n == 0 || c.kI == 0 {
		return nil
	}
	mt := min(m, max(64, tileFloats/max(n, c.kI)))
	tmp := getScratch(mt * n)
	defer scratchPool.Put(tmp)
	direct := c.inSC == 1 && c.inSW == c.inC && c.inSH == c.inW*c.inSW && c.inSB == c.inH*c.inSH
	var rowsBuf *[]float32
	if !direct {
		rowsBuf = getScratch(mt * c.kI)
		defer scratchPool.Put(rowsBuf)
	}
	hw := c.inH * c.inW
	for r0 := 0; r0 < m; r0 += mt {
		rows := min(mt, m-r0)
		a := sgemm.Matrix{Data: c.in, Off: r0 * c.inC, RowStride: c.inC, ColStride: 1}
		if !direct {
			buf := (*rowsBuf)[:rows*c.kI]
			for r := range rows {
				b, p := (r0+r)/hw, (r0+r)%hw
				src := b*c.inSB + p/c.inW*c.inSH + p%c.inW*c.inSW
				for ci := range c.kI {
					buf[r*c.kI+ci] = c.in[src+ci*c.inSC]
				}
			}
			a = sgemm.Matrix{Data: buf, RowStride: c.kI, ColStride: 1}
		}
		t := (*tmp)[:rows*n]
		for ky := range c.kH {
			for kx := range c.kW {
				clear(t)
				b := sgemm.Matrix{Data: c.ker, Off: ky*c.kSH + kx*c.kSW, RowStride: c.kSI, ColStride: c.kSO}
				if err := sgemm.MulAdd(rows, n, c.kI, a, b, t, 0, n); err != nil {
					return err
				}
				for r := range rows {
					bi, p := (r0+r)/hw, (r0+r)%hw
					oy := p/c.inW*c.inDil[0] - ky*c.kDil[0] + c.lo[0]
					ox := p%c.inW*c.inDil[1] - kx*c.kDil[1] + c.lo[1]
					if oy < 0 || ox < 0 || oy >= c.outH || ox >= c.outW {
						continue
					}
					dst := bi*c.outSB + oy*c.outSH + ox*c.outSW
					src := t[r*n : (r+1)*n]
					if c.outSC == 1 {
						out := c.out[dst : dst+n]
						for co, v := range src {
							out[co] += v
						}
					} else {
						for co, v := range src {
							c.out[dst+co*c.outSC] += v
						}
					}
				}
			}
		}
	}
	return nil
}

// gather writes the patches of output rows [r0, r0+rows) and reduction columns [k0, k0+cols)
// of group g into dst (row-major, cols wide), in parallel over rows.
func (c *conv2D) gather(dst []float32, r0, rows, k0, cols, g int) {
	work := func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := dst[r*cols : (r+1)*cols]
			b, yx := (r0+r)/(c.outH*c.outW), (r0+r)%(c.outH*c.outW)
			c.gatherRow(row, b, yx/c.outW, yx%c.outW, k0, g)
		}
	}
	const parallelFrom = 1 << 16
	if rows*cols < parallelFrom || rows < 2 {
		work(0, rows)
		return
	}
	var wg sync.WaitGroup
	half := rows / 2
	wg.Add(1)
	go func() { defer wg.Done(); work(half, rows) }()
	work(0, half)
	wg.Wait()
}

// gatherRow fills row with the reduction columns k0.. of output position (b, y, x): for each tap
// (ky, kx), the kI input channels of group g at the input position it reads, zeros in padding
// and in the holes of a dilated input.
func (c *conv2D) gatherRow(row []float32, b, y, x, k0, g int) {
	col := 0
	ci0 := k0 % c.kI
	tap := k0 / c.kI
	base := b*c.inSB + g*c.kI*c.inSC
	for ; col < len(row); tap++ {
		ky, kx := tap/c.kW, tap%c.kW
		cnt := min(c.kI-ci0, len(row)-col)
		seg := row[col : col+cnt]
		iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
		ix := x*c.stride[1] + kx*c.kDil[1] - c.lo[1]
		if iy < 0 || ix < 0 || iy%c.inDil[0] != 0 || ix%c.inDil[1] != 0 || iy/c.inDil[0] >= c.inH || ix/c.inDil[1] >= c.inW {
			clear(seg)
		} else {
			src := base + iy/c.inDil[0]*c.inSH + ix/c.inDil[1]*c.inSW + ci0*c.inSC
			if c.inSC == 1 {
				copy(seg, c.in[src:src+cnt])
			} else {
				s := c.inSC
				for i := range seg {
					seg[i] = c.in[src+i*s]
				}
			}
		}
		col += cnt
		ci0 = 0
	}
}

// scatter adds a tile's products (rows x n, row-major) into the output at its layout.
func (c *conv2D) scatter(tile []float32, r0, rows, g, n int) {
	for r := range rows {
		b, yx := (r0+r)/(c.outH*c.outW), (r0+r)%(c.outH*c.outW)
		dst := b*c.outSB + yx/c.outW*c.outSH + yx%c.outW*c.outSW + g*n*c.outSC
		src := tile[r*n : (r+1)*n]
		for co, v := range src {
			c.out[dst+co*c.outSC] += v
		}
	}
}

// depthwise computes a convolution with one input channel per group (MobileNet's): each output
// channel is its channel's input times its own kernel, accumulated tap by tap along the channels.
func (c *conv2D) depthwise() {
	ch := c.kO
	work := func(lo, hi int) {
		acc := make([]float32, ch)
		w := make([]float32, ch)
		for r := lo; r < hi; r++ {
			b, yx := r/(c.outH*c.outW), r%(c.outH*c.outW)
			y, x := yx/c.outW, yx%c.outW
			clear(acc)
			for ky := range c.kH {
				iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
				if iy < 0 || iy%c.inDil[0] != 0 || iy/c.inDil[0] >= c.inH {
					continue
				}
				for kx := range c.kW {
					ix := x*c.stride[1] + kx*c.kDil[1] - c.lo[1]
					if ix < 0 || ix%c.inDil[1] != 0 || ix/c.inDil[1] >= c.inW {
						continue
					}
					src := b*c.inSB + iy/c.inDil[0]*c.inSH + ix/c.inDil[1]*c.inSW
					kb := ky*c.kSH + kx*c.kSW
					wt := w
					if c.kSO == 1 {
						wt = c.ker[kb : kb+ch]
					} else {
						for o := range ch {
							w[o] = c.ker[kb+o*c.kSO]
						}
					}
					if c.inSC == 1 {
						sgemm.MulAcc(c.in[src:src+ch], wt, acc)
					} else {
						for o := range ch {
							acc[o] += c.in[src+o*c.inSC] * wt[o]
						}
					}
				}
			}
			dst := b*c.outSB + y*c.outSH + x*c.outSW
			if c.outSC == 1 {
				copy(c.out[dst:dst+ch], acc)
			} else {
				for o, v := range acc {
					c.out[dst+o*c.outSC] = v
				}
			}
		}
	}
	rows := c.batch * c.outH * c.outW
	if rows*ch*c.kH*c.kW < 1<<16 {
		work(0, rows)
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); work(rows/2, rows) }()
	work(0, rows/2)
	wg.Wait()
}
