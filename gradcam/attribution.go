package gradcam

import (
	"fmt"
	"math"
	"slices"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/nn"
)

// Integration is how Integrated Gradients approximates its path integral.
type Integration string

// The integration rules (Captum's names).
const (
	GaussLegendre    Integration = "gausslegendre"
	RiemannLeft      Integration = "riemann_left"
	RiemannRight     Integration = "riemann_right"
	RiemannMiddle    Integration = "riemann_middle"
	RiemannTrapezoid Integration = "riemann_trapezoid"
)

// IntegratedGradientsOptions configures Integrated Gradients (Sundararajan et al. 2017), as
// Captum's IntegratedGradients computes it.
type IntegratedGradientsOptions struct {
	// Steps is the number of points on the path from the baseline to the image; 0 means 50.
	Steps int
	// Rule is the quadrature; "" means GaussLegendre (Captum's default).
	Rule Integration
	// Baseline is one example in the model input's layout and space (normalized pixels); nil
	// means zeros (Captum's default: the mean image, in normalized space).
	Baseline []float32
	// BatchSize is how many path points one execution takes (memory stays bounded); 0 means 16.
	BatchSize int
}

func (o IntegratedGradientsOptions) withDefaults() IntegratedGradientsOptions {
	if o.Steps == 0 {
		o.Steps = 50
	}
	if o.Rule == "" {
		o.Rule = GaussLegendre
	}
	if o.BatchSize == 0 {
		o.BatchSize = 16
	}
	return o
}

func (o IntegratedGradientsOptions) check(exampleSize int) error {
	least := 1
	if o.Rule != GaussLegendre {
		least = 2
	}
	if o.Steps < least || o.BatchSize < 1 {
		return fmt.Errorf("integrated gradients needs steps >= %d and batch size >= 1, got %d and %d", least, o.Steps, o.BatchSize)
	}
	if !slices.Contains([]Integration{GaussLegendre, RiemannLeft, RiemannRight, RiemannMiddle, RiemannTrapezoid}, o.Rule) {
		return fmt.Errorf("unknown integration rule %q: gausslegendre, riemann_left, riemann_right, riemann_middle or riemann_trapezoid", o.Rule)
	}
	if o.Baseline != nil && len(o.Baseline) != exampleSize {
		return fmt.Errorf("the integrated gradients baseline has %d values; one example has %d", len(o.Baseline), exampleSize)
	}
	return nil
}

// pathPoints returns the quadrature's points alpha in [0, 1] and weights. Riemann rules are
// Captum's; the trapezoid rule uses steps of 1/(n-1) (Captum's use 1/n with linspace(0, 1, n)
// points, so its weights sum to 1 - 1/n: a path integral too small by that factor).
func pathPoints(rule Integration, n int) (alphas, weights []float64) {
	alphas, weights = make([]float64, n), make([]float64, n)
	switch rule {
	case GaussLegendre:
		x, w := gaussLegendre(n)
		for i := range n {
			alphas[i], weights[i] = 0.5*(1+x[i]), 0.5*w[i]
		}
		return
	case RiemannTrapezoid:
		for i := range n {
			alphas[i], weights[i] = float64(i)/float64(n-1), 1/float64(n-1)
		}
		weights[0], weights[n-1] = weights[0]/2, weights[n-1]/2
		return
	}
	lo, hi := 0.0, 1-1/float64(n) // RiemannLeft
	switch rule {
	case RiemannRight:
		lo, hi = 1/float64(n), 1
	case RiemannMiddle:
		lo, hi = 1/float64(2*n), 1-1/float64(2*n)
	}
	for i := range n {
		alphas[i], weights[i] = lo+(hi-lo)*float64(i)/float64(n-1), 1/float64(n)
	}
	return
}

// gaussLegendre returns the n Gauss-Legendre nodes on [-1, 1] in ascending order and their
// weights (numpy.polynomial.legendre.leggauss), by Newton's method on the Legendre polynomial.
func gaussLegendre(n int) (x, w []float64) {
	x, w = make([]float64, n), make([]float64, n)
	for i := range (n + 1) / 2 {
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(n) + 0.5))
		for range 100 {
			p, dp := legendre(n, z)
			dz := p / dp
			z -= dz
			if math.Abs(dz) < 1e-15 {
				break
			}
		}
		_, dp := legendre(n, z)
		wi := 2 / ((1 - z*z) * dp * dp)
		x[i], x[n-1-i] = -z, z
		w[i], w[n-1-i] = wi, wi
	}
	return x, w
}

// legendre returns the Legendre polynomial P_n and its derivative at z (|z| < 1).
func legendre(n int, z float64) (p, dp float64) {
	p0, p1 := 1.0, z
	for k := 2; k <= n; k++ {
		p0, p1 = p1, (float64(2*k-1)*z*p1-float64(k-1)*p0)/float64(k)
	}
	return p1, float64(n) * (z*p1 - p0) / (z*z - 1)
}

// gradientRule is the ReLU rule of a gradient method's input gradient.
func gradientRule(m Method) nn.Rule {
	switch m {
	case GuidedBackprop:
		return nn.Guided
	case Deconvnet:
		return nn.Deconvnet
	}
	return nn.Backprop
}

// gradientExec returns the executor of a target's score and its input gradient under rule for
// a batch of inputs and one class per input.
func (e *Explainer) gradientExec(target Target, rule nn.Rule) (*context.Exec, error) {
	key := "inputgrad|" + target.Name + "|" + rule.String()
	if exec, ok := e.execs[key]; ok {
		return exec, nil
	}
	exec, err := context.NewExec(e.Model.Backend(), e.Model.Context(), func(ctx *context.Context, images, classes *Node) []*Node {
		e.stats.GraphBuilds++
		fw := e.Model.ForwardWith(ctx, images, nn.Config{})
		scores := target.Fn(fw.Output, classes)
		return []*Node{scores, fw.Gradient(ReduceAllSum(scores), rule, images)[0]}
	})
	if err != nil {
		return nil, err
	}
	e.execs[key] = exec
	return exec, nil
}

// integratedGradients fills the IntegratedGradients maps of result: per image and class,
// (x - baseline) * sum_i w_i dy/dx(baseline + alpha_i (x - baseline)), and the convergence delta
// sum(attributions) - (y(x) - y(baseline)).
func (e *Explainer) integratedGradients(images *tensors.Tensor, target Target, o IntegratedGradientsOptions, k int, result Results) error {
	exec, err := e.gradientExec(target, nn.Backprop)
	if err != nil {
		return err
	}
	dims := images.Shape().Dimensions
	b, size := dims[0], shapeSize(dims[1:])
	pixels := toFloat32(images)
	base := o.Baseline
	if base == nil {
		base = make([]float32, size)
	}
	run := func(batch []float32, classes []int32) (scores, grads []float32, err error) {
		n := len(classes)
		outs, err := e.run(exec, "integrated gradients", fromFloat32(batch, e.Model.DType(), append([]int{n}, dims[1:]...)...),
			tensors.FromFlatDataAndDimensions(classes, n))
		if err != nil {
			return nil, nil, err
		}
		return outs[0], outs[1], nil
	}
	alphas, weights := pathPoints(o.Rule, o.Steps)
	for i := range b {
		x := pixels[i*size : (i+1)*size]
		for j := range k {
			ex := result[i*k+j]
			class := int32(ex.Class)
			total := make([]float64, size)
			for start := 0; start < o.Steps; start += o.BatchSize {
				end := min(start+o.BatchSize, o.Steps)
				batch := make([]float32, (end-start)*size)
				classes := make([]int32, end-start)
				for s := start; s < end; s++ {
					row := batch[(s-start)*size:]
					for p := range size {
						row[p] = base[p] + float32(alphas[s])*(x[p]-base[p])
					}
					classes[s-start] = class
				}
				_, grads, err := run(batch, classes)
				if err != nil {
					return err
				}
				for s := start; s < end; s++ {
					g := grads[(s-start)*size:]
					for p := range size {
						total[p] += weights[s] * float64(g[p])
					}
				}
			}
			ends, _, err := run(append(slices.Clone(x), base...), []int32{class, class})
			if err != nil {
				return err
			}
			attr := make([]float32, size)
			sum := 0.0
			for p := range size {
				a := total[p] * float64(x[p]-base[p])
				attr[p], sum = float32(a), sum+a
			}
			ex.Maps[IntegratedGradients] = &Map{Method: IntegratedGradients, Values: attr, Shape: slices.Clone(dims[1:]),
				Delta: sum - float64(ends[0]-ends[1]), AllZero: allZero(attr, false)}
		}
	}
	return nil
}

// LayerGradient returns a layer's activations for a batch of images and the gradient of the
// target's score of one class per image with respect to them (plain backpropagation), both in
// PyTorch's layout ([B, C, h, w] or [B, C, l]) with that shape: the two ingredients of Grad-CAM,
// for computing it by hand or a variant of one's own.
func (e *Explainer) LayerGradient(images *tensors.Tensor, layer string, target Target, classes []int) (acts, grads []float32, shape []int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.desc.CheckInput(images, e.Model.DType()); err != nil {
		return nil, nil, nil, err
	}
	if !slices.ContainsFunc(e.desc.Layers, func(l nn.LayerInfo) bool { return l.Name == layer }) {
		return nil, nil, nil, fmt.Errorf("unknown layer %q of %s; the explainable layers are %s", layer, e.desc.Name, strings.Join(e.desc.ExplainableLayers(), ", "))
	}
	b := images.Shape().Dimensions[0]
	if len(classes) != b {
		return nil, nil, nil, fmt.Errorf("layer gradient: %d classes for %d images", len(classes), b)
	}
	cls := make([]int32, b)
	for i, c := range classes {
		if c < 0 || c >= e.desc.Outputs {
			return nil, nil, nil, fmt.Errorf("class %d is out of range: %s has %d outputs (0..%d)", c, e.desc.Name, e.desc.Outputs, e.desc.Outputs-1)
		}
		cls[i] = int32(c)
	}
	key := "layergrad|" + layer + "|" + target.Name
	exec, ok := e.execs[key]
	if !ok {
		exec, err = context.NewExec(e.Model.Backend(), e.Model.Context(), func(ctx *context.Context, images, classes *Node) []*Node {
			e.stats.GraphBuilds++
			fw := e.Model.ForwardWith(ctx, images, nn.Config{})
			a, err := fw.TapChannelsLast(layer) // the node on the path (its channels-first view is not)
			if err != nil {
				panic(err)
			}
			scores := target.Fn(fw.Output, classes)
			g := fw.Gradient(ReduceAllSum(scores), nn.Backprop, a)[0]
			return []*Node{Identity(nn.ChannelsFirst(a)), nn.ChannelsFirst(g)}
		})
		if err != nil {
			return nil, nil, nil, err
		}
		e.execs[key] = exec
	}
	var outs []*tensors.Tensor
	if err := catch.Panic(func() (err error) {
		outs, err = exec.Exec(images, tensors.FromFlatDataAndDimensions(cls, b))
		return err
	}); err != nil {
		return nil, nil, nil, fmt.Errorf("layer gradient at %s: %w", layer, err)
	}
	e.stats.Executions++
	shape = slices.Clone(outs[0].Shape().Dimensions)
	acts, grads = toFloat32(outs[0]), toFloat32(outs[1])
	outs[0].FinalizeAll()
	outs[1].FinalizeAll()
	return acts, grads, shape, nil
}
