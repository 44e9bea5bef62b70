// DeepLift and DeepLiftShap: attributions by differences from a reference.

package gradcam

import (
	"fmt"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/nn"
)

// DeepLiftOptions configure DeepLift and DeepLiftShap (Shrikumar et al. 2017, as Captum
// computes them): the rescale rule at ReLUs and ReLU6, the gradient elsewhere (max pooling included, as the DeepLIFT authors and, in effect, Captum do), and
// the attribution (x - r) times the multipliers, r a reference input. DeepLift uses the first
// baseline as r; DeepLiftShap averages DeepLift over all of them, an approximation of SHAP values
// with the baselines as the background distribution.
type DeepLiftOptions struct {
	// Baselines are the reference inputs, one example each; nil means a single all-zero input.
	Baselines [][]float32
	// BatchSize is the input-reference pairs per execution (twice as many inputs); 0 means 4.
	BatchSize int
}

func (o DeepLiftOptions) withDefaults() DeepLiftOptions {
	if o.BatchSize == 0 {
		o.BatchSize = 4
	}
	return o
}

func (o DeepLiftOptions) check(exampleSize int) error {
	if o.BatchSize < 1 {
		return fmt.Errorf("DeepLift's batch size must be >= 1, got %d", o.BatchSize)
	}
	for i, b := range o.Baselines {
		if len(b) != exampleSize {
			return fmt.Errorf("DeepLift baseline %d has %d values for inputs of %d", i, len(b), exampleSize)
		}
	}
	return nil
}

// deepLiftExec returns the executor of the target's scores and DeepLift's multipliers at the
// input, for a batch of n inputs followed by their n references and 2n classes.
func (e *Explainer) deepLiftExec(target Target) (*context.Exec, error) {
	key := "deeplift|" + target.Name
	if exec, ok := e.execs[key]; ok {
		return exec, nil
	}
	exec, err := context.NewExec(e.Model.Backend(), e.Model.Context(), func(ctx *context.Context, pairs, classes *Node) []*Node {
		e.stats.GraphBuilds++
		fw := e.Model.ForwardWith(ctx, pairs, nn.Config{})
		scores := target.Fn(fw.Output, classes)
		return []*Node{scores, fw.Gradient(ReduceAllSum(scores), nn.Rescale, pairs)[0]}
	})
	if err != nil {
		return nil, err
	}
	e.execs[key] = exec
	return exec, nil
}

// deepLift fills the maps of method (DeepLift: the first baseline; DeepLiftShap: the mean over
// all) for each image and class, and Map.Delta, the attributions' sum minus (y(x) - mean y(r)).
func (e *Explainer) deepLift(images *tensors.Tensor, req Request, method Method, k int, result Results) error {
	o := req.DeepLift
	dims := images.Shape().Dimensions
	b, size := dims[0], shapeSize(dims[1:])
	baselines := o.Baselines
	if baselines == nil {
		baselines = [][]float32{make([]float32, size)}
	}
	if method == DeepLift {
		baselines = baselines[:1]
	}
	exec, err := e.deepLiftExec(req.Target)
	if err != nil {
		return err
	}
	pixels := toFloat32(images)
	type pair struct{ image, class, baseline int }
	var pairs []pair
	for i := range b {
		for j := range k {
			for r := range baselines {
				pairs = append(pairs, pair{i, j, r})
			}
		}
	}
	sums := make([][]float64, b*k)
	delta := make([]float64, b*k)
	for start := 0; start < len(pairs); start += o.BatchSize {
		batch := pairs[start:min(start+o.BatchSize, len(pairs))]
		n := len(batch)
		in := make([]float32, 2*n*size)
		classes := make([]int32, 2*n)
		for q, p := range batch {
			copy(in[q*size:], pixels[p.image*size:(p.image+1)*size])
			copy(in[(n+q)*size:], baselines[p.baseline])
			c := int32(result[p.image*k+p.class].Class)
			classes[q], classes[n+q] = c, c
		}
		outs, err := e.run(exec, method.Title(), fromFloat32(in, e.Model.DType(), append([]int{2 * n}, dims[1:]...)...),
			tensors.FromFlatDataAndDimensions(classes, 2*n))
		if err != nil {
			return err
		}
		scores, grads := outs[0], outs[1]
		for q, p := range batch {
			idx := p.image*k + p.class
			if sums[idx] == nil {
				sums[idx] = make([]float64, size)
			}
			x, r, g := in[q*size:(q+1)*size], in[(n+q)*size:(n+q+1)*size], grads[q*size:(q+1)*size]
			for v := range size {
				sums[idx][v] += float64(x[v]-r[v]) * float64(g[v])
			}
			delta[idx] -= float64(scores[q] - scores[n+q])
		}
	}
	for idx, s := range sums {
		out := make([]float32, size)
		total := 0.0
		for v, a := range s {
			out[v] = float32(a / float64(len(baselines)))
			total += float64(out[v])
		}
		result[idx].Maps[method] = &Map{Method: method, Values: out, Shape: slices.Clone(dims[1:]), AllZero: allZero(out, false),
			Delta: total + delta[idx]/float64(len(baselines))}
	}
	return nil
}

var deepLiftSpec = MethodSpec{
	Name: DeepLift, Title: "DeepLift", Family: Sampled,
	Summary:       "(input - reference) x multipliers of the rescale rule at ReLUs (Shrikumar et al. 2017)",
	GradientImage: true, Signed: true,
}

var deepLiftShapSpec = MethodSpec{
	Name: DeepLiftShap, Title: "DeepLiftShap", Family: Sampled,
	Summary:       "DeepLift averaged over a set of references, approximating SHAP values (Lundberg & Lee 2017)",
	GradientImage: true, Signed: true,
}
