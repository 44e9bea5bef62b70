package nn

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Embedding is PyTorch's nn.Embedding: token ids [B, T] (int32) to vectors [B, T, dim], rows of
// the table path.weight [vocab, dim] (initialized N(0, 1) as PyTorch does). Gradients reach the
// table, not the ids.
func (b *Builder) Embedding(path string, ids *graph.Node, vocab, dim int) *graph.Node {
	w := b.param(path+".weight", []int{vocab, dim}, AsIs, InitNormal, 0, true)
	idx := graph.ExpandAxes(graph.ConvertDType(ids, dtypes.Int32), -1) // [B, T, 1]
	return b.Tap(path, graph.Gather(w, idx))
}

// GRU is PyTorch's nn.GRU with one layer and batch_first, unrolled over the T steps of x
// [B, T, I] from a zero state: the hidden state after each step, [B, T, hidden], and the last
// one, [B, hidden]. Its parameters are PyTorch's (path.weight_ih_l0 [3H, I], weight_hh_l0
// [3H, H], bias_ih_l0 and bias_hh_l0 [3H], gates in the order reset, update, new):
//
//	r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz)
//	n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h
//
// lengths (int32 [B]; nil: every sequence is T long) masks the padding: a sequence's state stops
// changing after its last step, so the last state is its own, as PyTorch's pack_padded_sequence
// gives; the states after a sequence's end repeat its last one (PyTorch's padded output has zeros
// there).
func (b *Builder) GRU(path string, x, lengths *graph.Node, hidden int) (states, last *graph.Node) {
	if b.fw.lrp != nil {
		b.fw.lrp.layers = append(b.fw.lrp.layers, &lrpLayer{kind: Recurrent, path: path}) // no relevance rule: refused
	}
	dims := x.Shape().Dimensions
	batch, steps, in := dims[0], dims[1], dims[2]
	wih := b.param(path+".weight_ih_l0", []int{3 * hidden, in}, AsIs, InitFanIn, hidden, true)
	whh := b.param(path+".weight_hh_l0", []int{3 * hidden, hidden}, AsIs, InitFanIn, hidden, true)
	bih := b.param(path+".bias_ih_l0", []int{3 * hidden}, AsIs, InitFanIn, hidden, true)
	bhh := b.param(path+".bias_hh_l0", []int{3 * hidden}, AsIs, InitFanIn, hidden, true)
	g := x.Graph()
	// The input's contribution for every step at once: [B, T, 3H].
	gi := graph.Add(graph.Einsum("bti,gi->btg", x, wih), graph.ExpandLeftToRank(bih, 3))
	gate := func(v *graph.Node, k int) *graph.Node {
		return graph.Slice(v, graph.AxisRange(), graph.AxisRange(k*hidden, (k+1)*hidden))
	}
	h := graph.Zeros(g, shapes.Make(x.DType(), batch, hidden))
	out := make([]*graph.Node, steps)
	for t := range steps {
		it := graph.Reshape(graph.Slice(gi, graph.AxisRange(), graph.AxisElem(t)), batch, 3*hidden)
		ht := graph.Add(graph.Einsum("bh,gh->bg", h, whh), graph.ExpandLeftToRank(bhh, 2))
		r := graph.Sigmoid(graph.Add(gate(it, 0), gate(ht, 0)))
		z := graph.Sigmoid(graph.Add(gate(it, 1), gate(ht, 1)))
		n := graph.Tanh(graph.Add(gate(it, 2), graph.Mul(r, gate(ht, 2))))
		next := graph.Add(graph.Mul(graph.OneMinus(z), n), graph.Mul(z, h))
		if lengths != nil {
			live := graph.ConvertDType(graph.GreaterThan(graph.ConvertDType(lengths, dtypes.Int32), graph.Const(g, int32(t))), x.DType())
			live = graph.ExpandAxes(live, -1) // [B, 1]
			next = graph.Add(graph.Mul(live, next), graph.Mul(graph.OneMinus(live), h))
		}
		h = next
		out[t] = graph.ExpandAxes(h, 1)
	}
	states = graph.Concatenate(out, 1)
	b.Tap(path, states)
	return states, h
}
