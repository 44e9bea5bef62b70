package nn_test

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/nn"
)

// TestGRUMatchesPyTorch: Embedding and GRU (with padded sequences of three lengths) give
// PyTorch's last states and per-step states on the same weights, and the same gradients of a loss
// on both with respect to every parameter (reference_gru.py; 1e-5 of each array's largest value).
func TestGRUMatchesPyTorch(t *testing.T) {
	ref := testref.Ensure(t, "nn/testdata/reference_gru.py", "nn-gru-ref")
	read := func(name string) *tensors.Tensor {
		v, shape := testref.ReadNPY(t, filepath.Join(ref, name+".npy"))
		return tensors.FromFlatDataAndDimensions(v, shape...)
	}
	readInt := func(name string) *tensors.Tensor {
		v, shape := testref.ReadNPYAs[int32](t, filepath.Join(ref, name+".npy"))
		return tensors.FromFlatDataAndDimensions(v, shape...)
	}
	keys := []string{"embedding.weight", "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0"}
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(b, func(inputs []*graph.Node) []*graph.Node {
		ids, lengths, c, d := inputs[0], inputs[1], inputs[2], inputs[3]
		params := map[string]*graph.Node{}
		for i, k := range keys {
			params[k] = inputs[4+i]
		}
		nb := nn.NewBuilder(nn.Config{Param: func(p nn.ParamSpec) *graph.Node { return params[p.Key] }})
		x := nb.Embedding("embedding", ids, 11, 5)
		states, last := nb.GRU("gru", x, lengths, 7)
		// The padded output of PyTorch is zero after each sequence's end: mask the states so.
		steps := graph.Iota(ids.Graph(), shapes.Make(dtypes.Int32, 3, 6), 1)
		live := graph.ConvertDType(graph.LessThan(graph.ConvertDType(steps, lengths.DType()), graph.ExpandAxes(lengths, -1)), states.DType())
		output := graph.Mul(states, graph.ExpandAxes(live, -1))
		loss := graph.Add(graph.ReduceAllSum(graph.Mul(last, c)), graph.ReduceAllSum(graph.Mul(output, d)))
		wrt := make([]*graph.Node, len(keys))
		for i, k := range keys {
			wrt[i] = params[k]
		}
		return append([]*graph.Node{last, output, loss}, graph.Gradient(loss, wrt...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{readInt("ids"), readInt("lengths"), read("c"), read("d")}
	for _, k := range keys {
		args = append(args, read(k))
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"h_n", "output", "loss"}, func() []string {
		var g []string
		for _, k := range keys {
			g = append(g, "grad_"+k)
		}
		return g
	}()...)
	for i, name := range want {
		w, _ := testref.ReadNPY(t, filepath.Join(ref, name+".npy"))
		got := tensors.MustCopyFlatData[float32](outs[i])
		if e := testref.MaxRelErr(got, w); !(e <= 1e-5) {
			t.Errorf("%s differs from PyTorch's by %.3g of its largest value", name, e)
		}
	}
}
