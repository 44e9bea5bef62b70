package nn

import (
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
)

// TestReLURulesOnTinyNetwork checks the three backward rules of ReLU and ReLU6 on
//
//	h = W1 x,  y = w2 · act(h),  x = [1, 2]
//	W1 = [[1, 0], [0, -1], [3, 2], [-1, 2]]  ->  h = [1, -2, 7, 3]
//	w2 = [2, 3, -1, -4]                        (the gradient v arriving at act's output)
//
// with dy/dx = W1^T g, where g is what the rule lets through act:
//
//	ReLU  backprop  g = v*[h>0]        = [2, 0, -1, -4]  -> dy/dx = [3, -10]
//	ReLU  guided    g = v*[h>0]*[v>0]  = [2, 0,  0,  0]  -> dy/dx = [2, 0]
//	ReLU  deconvnet g = v*[v>0]        = [2, 3,  0,  0]  -> dy/dx = [2, -3]
//	ReLU6 backprop  g = v*[0<h<6]      = [2, 0,  0, -4]  -> dy/dx = [6, -8]
//	ReLU6 guided    = ReLU guided; ReLU6 deconvnet = ReLU deconvnet (h=7 is not inside (0, 6))
//
// Guided backprop differs from the gradient where v < 0 at a live unit (units 3, 4) and from the
// deconvnet where v > 0 at a dead unit (unit 2), as the rules say. Both formulations of relu give
// them: the rule as the activation node's own gradient (the activation is then a Max or Min
// node), and the identity with a custom gradient.
func TestReLURulesOnTinyNetwork(t *testing.T) {
	defer func(on bool) { rulesOnActivation = on }(rulesOnActivation)
	for _, on := range []bool{true, false} {
		rulesOnActivation = on
		t.Run(map[bool]string{true: "on the activation", false: "identity"}[on], testReLURules)
	}
}

func testReLURules(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		upper float64
		rule  Rule
		want  []float32
	}{
		{0, Backprop, []float32{3, -10}},
		{0, Guided, []float32{2, 0}},
		{0, Deconvnet, []float32{2, -3}},
		{6, Backprop, []float32{6, -8}},
		{6, Guided, []float32{2, 0}},
		{6, Deconvnet, []float32{2, -3}},
	}
	for _, tc := range tests {
		t.Run(tc.rule.String()+map[float64]string{0: "/relu", 6: "/relu6"}[tc.upper], func(t *testing.T) {
			exec, err := graph.NewExec(b, func(x *graph.Node) []*graph.Node {
				g := x.Graph()
				n := NewBuilder(Config{})
				w1 := graph.Const(g, [][]float32{{1, 0}, {0, -1}, {3, 2}, {-1, 2}})
				w2 := graph.Const(g, []float32{2, 3, -1, -4})
				h := graph.Einsum("hi,i->h", w1, x)
				act := n.relu(h, tc.upper)
				if want := map[float64]graph.NodeType{0: graph.NodeTypeMax, 6: graph.NodeTypeMin}[tc.upper]; rulesOnActivation && act.Type() != want {
					t.Errorf("the activation is a %s node, want %s: the rule is not on the activation's node", act.Type(), want)
				}
				y := graph.ReduceAllSum(graph.Mul(w2, act))
				grad := n.Forward().Gradient(y, tc.rule, x)[0]
				// The rule's mask reads the activation, not h: a batch norm's output before its
				// ReLU need not be kept (fused with the ReLU, it is computed once).
				for _, node := range g.Nodes() {
					if nt := node.Type(); (nt == graph.NodeTypeGreaterThan || nt == graph.NodeTypeLessThan) && node.Inputs()[0] == h {
						t.Errorf("a %s of the rule's mask reads the ReLU's input", nt)
					}
				}
				return []*graph.Node{act, grad}
			})
			if err != nil {
				t.Fatal(err)
			}
			outs := exec.MustExec(tensors.FromValue([]float32{1, 2}))
			act := tensors.MustCopyFlatData[float32](outs[0])
			wantAct := []float32{1, 0, 7, 3}
			if tc.upper == 6 {
				wantAct[2] = 6
			}
			if !slices.Equal(act, wantAct) {
				t.Errorf("forward %v, want %v", act, wantAct)
			}
			if got := tensors.MustCopyFlatData[float32](outs[1]); !slices.Equal(got, tc.want) {
				t.Errorf("dy/dx = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRulesFrom checks that Config.RulesFrom builds plain ReLUs below the given layer and
// rule-aware ones above it, on
//
//	r1 = relu(x), x = [1, -2]  ->  r1 = [1, 0]
//	r2 = relu(W r1), W = [[1, 1], [1, -1]]  ->  r2 = [1, 1]
//	y = [2, -3] · r2
//
// Under the deconvnet rule, r2 passes max(v, 0) = [2, 0] and dy/dr1 = W^T [2, 0] = [2, 2]. With
// every ReLU following the rule, dy/dx = max([2, 2], 0) = [2, 2]; with RulesFrom r1, r1 is plain
// and blocks the negative input: dy/dx = [2, 0]. dy/dr1 is the same either way.
func TestRulesFrom(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rulesFrom []string
		wantDX    []float32
	}{
		{nil, []float32{2, 2}},
		{[]string{"r1"}, []float32{2, 0}},
		{[]string{"elsewhere", "r1"}, []float32{2, 0}},
	} {
		exec, err := graph.NewExec(b, func(x *graph.Node) []*graph.Node {
			g := x.Graph()
			n := NewBuilder(Config{RulesFrom: tc.rulesFrom})
			r1 := n.ReLU("r1", x)
			h := graph.Einsum("hi,i->h", graph.Const(g, [][]float32{{1, 1}, {1, -1}}), r1)
			r2 := n.ReLU("r2", h)
			y := graph.ReduceAllSum(graph.Mul(graph.Const(g, []float32{2, -3}), r2))
			return n.Forward().Gradient(y, Deconvnet, x, r1)
		})
		if err != nil {
			t.Fatal(err)
		}
		outs := exec.MustExec(tensors.FromValue([]float32{1, -2}))
		if got := tensors.MustCopyFlatData[float32](outs[0]); !slices.Equal(got, tc.wantDX) {
			t.Errorf("RulesFrom %v: dy/dx = %v, want %v", tc.rulesFrom, got, tc.wantDX)
		}
		if got := tensors.MustCopyFlatData[float32](outs[1]); !slices.Equal(got, []float32{2, 2}) {
			t.Errorf("RulesFrom %v: dy/dr1 = %v, want [2 2]", tc.rulesFrom, got)
		}
	}
}
