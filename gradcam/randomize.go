package gradcam

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// ParamLayers lists the context scopes that hold the function's trainable variables, in the
// order it created them ("/conv1/conv", "/readout/dense"): the layers Randomized takes.
func (m *funcModel) ParamLayers() []string {
	var out []string
	for v := range m.ctx.IterVariables() {
		if v.Trainable && !slices.Contains(out, v.Scope()) {
			out = append(out, v.Scope())
		}
	}
	return out
}

// Randomized returns a copy of the model whose trainable variables in the given scopes are drawn
// again, deterministic from seed, and whose other variables are copied: the model-parameter
// randomization of Adebayo et al.'s sanity checks (2018). A GoMLX function does not record its
// initializers, so each re-drawn variable takes normal values with its trained values' mean and
// standard deviation (a layer's scale is kept, what it learned is not).
func (m *funcModel) Randomized(layers []string, seed uint64) (Model, error) {
	known := m.ParamLayers()
	for _, l := range layers {
		if !slices.Contains(known, l) {
			return nil, fmt.Errorf("%s has no scope %q with trainable variables; those are %s", m.o.Name, l, strings.Join(known, ", "))
		}
	}
	ctx := context.New()
	for v := range m.ctx.IterVariables() {
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", m.o.Name, v.ScopeAndName(), err)
		}
		value := t
		if v.Trainable && slices.Contains(layers, v.Scope()) {
			if value, err = redrawn(t, v.ScopeAndName(), seed); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", m.o.Name, v.ScopeAndName(), err)
			}
		} else if value, err = t.LocalClone(); err != nil {
			return nil, fmt.Errorf("%s: copying %s: %w", m.o.Name, v.ScopeAndName(), err)
		}
		ctx.InAbsPath(v.Scope()).VariableWithValue(v.Name(), value).SetTrainable(v.Trainable)
	}
	o := m.o
	o.Name = fmt.Sprintf("%s with %s re-initialized (seed %d)", m.o.Name, strings.Join(layers, ", "), seed)
	return FromFunc(m.fn, ctx, o)
}

// redrawn is a float tensor of t's shape with normal values of t's mean and standard deviation,
// from seed and the variable's name.
func redrawn(t *tensors.Tensor, name string, seed uint64) (*tensors.Tensor, error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	var out *tensors.Tensor
	var err error
	if e := t.ConstFlatData(func(flat any) {
		switch v := flat.(type) {
		case []float32:
			mean, std := moments(len(v), func(i int) float64 { return float64(v[i]) })
			w := make([]float32, len(v))
			for i := range w {
				w[i] = float32(mean + std*r.NormFloat64())
			}
			out = tensors.FromFlatDataAndDimensions(w, t.Shape().Dimensions...)
		case []float64:
			mean, std := moments(len(v), func(i int) float64 { return v[i] })
			w := make([]float64, len(v))
			for i := range w {
				w[i] = mean + std*r.NormFloat64()
			}
			out = tensors.FromFlatDataAndDimensions(w, t.Shape().Dimensions...)
		default:
			err = fmt.Errorf("a %s variable cannot be re-drawn (float32 and float64 can)", t.DType())
		}
	}); e != nil {
		return nil, e
	}
	return out, err
}

// moments are the mean and standard deviation of n values.
func moments(n int, at func(int) float64) (mean, std float64) {
	if n == 0 {
		return 0, 0
	}
	for i := range n {
		mean += at(i)
	}
	mean /= float64(n)
	for i := range n {
		d := at(i) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(n))
}
