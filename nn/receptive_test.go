package nn

import (
	"image"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
)

// fieldNet mixes what changes a receptive field: a padded, strided and dilated convolution,
// padded average pooling, a residual sum of a 3x3 and a 1x1 branch, and a per-axis kernel.
var fieldNet = &Network{Name: "fields", Input: []int{1, 40, 36}, Build: func(b *Builder, x *Node) *Node {
	x = b.ReLU("relu1", b.Conv2D("conv1", x, Conv{Out: 2, Kernel: 3, Stride: 2, Padding: 2, Dilation: 2}))
	x = b.AvgPool2D("pool1", x, Pool{Kernel: 3, Stride: 2, Padding: 1})
	x = b.Add("res", b.Conv2D("res.a", x, Conv{Out: 2, Kernel: 3, Padding: 1}), b.Conv2D("res.b", x, Conv{Out: 2, Kernel: 1}))
	x = b.Conv2D("conv3", x, Conv{Out: 1, KernelHW: [2]int{1, 3}, Pads: [4]int{0, 1, 0, 1}})
	return b.Linear("fc", b.GlobalAvgPool("gap", x), 2)
}}

// TestReceptiveFieldsByHand checks the fields of fieldNet against the recurrences worked out by
// hand (size r += (dilation*(k-1))*jump, jump *= stride, start -= padding*jump).
func TestReceptiveFieldsByHand(t *testing.T) {
	spec, err := fieldNet.Spec()
	if err != nil {
		t.Fatal(err)
	}
	sq := func(size, jump, start int) ReceptiveField {
		return ReceptiveField{Size: [2]int{size, size}, Jump: [2]int{jump, jump}, Start: [2]int{start, start}}
	}
	for _, c := range []struct {
		layer string
		want  ReceptiveField
	}{
		{"conv1", sq(5, 2, -2)}, // dilated 3x3: 5 px
		{"relu1", sq(5, 2, -2)},
		{"pool1", sq(9, 4, -4)},  // 5 + 2*2, start -2 - 1*2
		{"res.a", sq(17, 4, -8)}, // 9 + 2*4, start -4 - 4
		{"res.b", sq(9, 4, -4)},
		{"res", sq(17, 4, -8)}, // the union of both branches
		{"conv3", ReceptiveField{Size: [2]int{17, 25}, Jump: [2]int{4, 4}, Start: [2]int{-8, -12}}},
	} {
		got, err := spec.ReceptiveField(c.layer)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: %v, want %v", c.layer, got, c.want)
		}
	}
	if _, err := spec.ReceptiveField("fc"); err == nil || !strings.Contains(err.Error(), "not a spatial layer") {
		t.Errorf("fc: error %v, want one saying it is not spatial", err)
	}
	if _, err := spec.ReceptiveField("nope"); err == nil || !strings.Contains(err.Error(), "conv1") {
		t.Errorf("unknown layer: error %v, want one listing the layers", err)
	}
}

// TestReceptiveFieldsMatchGradients checks the fields against the network itself: with every
// weight 1 and an input of ones (so every ReLU passes), the input gradient of one position of a
// layer is nonzero exactly on that position's field where it lies inside the image, and inside
// it where the image clips it.
func TestReceptiveFieldsMatchGradients(t *testing.T) {
	spec, err := fieldNet.Spec()
	if err != nil {
		t.Fatal(err)
	}
	be, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	h, w := fieldNet.Input[1], fieldNet.Input[2]
	for _, layer := range []string{"conv1", "pool1", "res", "conv3"} {
		field, _ := spec.ReceptiveField(layer)
		var lh, lw int
		for _, l := range spec.Layers {
			if l.Name == layer {
				lh, lw = l.Shape[2], l.Shape[3]
			}
		}
		for _, pos := range [][2]int{{0, 0}, {lh / 2, lw / 2}, {lh - 1, lw - 1}, {0, lw - 1}} {
			exec, err := graph.NewExec(be, func(x *graph.Node) *graph.Node {
				g := x.Graph()
				b := NewBuilder(Config{Param: func(p ParamSpec) *graph.Node {
					return graph.Ones(g, shapes.Make(dtypes.Float32, InternalShape(p.Shape, p.Layout, Im2col)...))
				}})
				fieldNet.Build(b, ChannelsLast(x))
				tap, err := b.Forward().TapChannelsLast(layer)
				if err != nil {
					panic(err)
				}
				unit := graph.Slice(tap, graph.AxisRange(), graph.AxisElem(pos[0]), graph.AxisElem(pos[1]), graph.AxisElem(0))
				return graph.Gradient(graph.ReduceAllSum(unit), x)[0]
			})
			if err != nil {
				t.Fatal(err)
			}
			ones := make([]float32, h*w)
			for i := range ones {
				ones[i] = 1
			}
			grad := tensors.MustCopyFlatData[float32](exec.MustExec(tensors.FromFlatDataAndDimensions(ones, 1, 1, h, w))[0])
			support := image.Rectangle{}
			for y := range h {
				for x := range w {
					if grad[y*w+x] != 0 {
						support = support.Union(image.Rect(x, y, x+1, y+1))
					}
				}
			}
			// Where the image cuts a field, it may cut it at a hole of the dilated kernel: the
			// gradient then stops short of the clipped field, and must lie inside it.
			region, img := field.Region(pos[0], pos[1]), image.Rect(0, 0, w, h)
			if want := region.Intersect(img); support.Empty() || !support.In(want) || (region.In(img) && support != want) {
				t.Errorf("%s at %v: the gradient is nonzero on %v, the receptive field says %v", layer, pos, support, want)
			}
		}
	}
}
