package gradcam

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/heatmap"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/nn"
)

// PerturbationOptions configure the CAM methods that weight a layer's channels by forward passes
// instead of gradients.
//
// Score-CAM (pytorch-grad-cam's ScoreCAM): each channel of the layer is upsampled to the input
// size (bilinear, align_corners=True), min-max scaled to [0, 1], and multiplied with the input;
// the channel's weight is the softmax over channels of the target scores of those masked inputs.
// One pass over the channels serves every class of the request.
//
// Ablation-CAM (pytorch-grad-cam's AblationCAM): channel k of the layer is set to the ablation
// value (0 when the layer's minimum is 0, as after a ReLU; else that minimum - 1e7) and the
// rest of the network run on; the weight is (y - y_k) / |y|. pytorch-grad-cam divides by y,
// which for a negative score flips the sign of every weight and so turns the map into its
// opposite (its issue #555); dividing by |y| keeps the meaning (a positive weight is a channel
// whose removal lowers the score) and equals the reference whenever y > 0. (With a negative
// minimum, pytorch-grad-cam lowers the value by a further 1e7 for every channel ablated before
// in the same batch, an accident of its loop; here every channel gets the same value.) Each
// ablated copy starts from the layer's activations, already computed, so only the layers after
// it run; a network where that does not build (a concatenation of the layer with an earlier
// activation) runs whole per channel, as the reference does.
type PerturbationOptions struct {
	// ScoreCAMBatch is Score-CAM's masked images per forward execution; 0 means 16, the
	// reference's.
	ScoreCAMBatch int
	// AblationBatch is Ablation-CAM's ablated channels per execution; 0 means 32, the reference's.
	AblationBatch int
}

func (o PerturbationOptions) withDefaults() PerturbationOptions {
	if o.ScoreCAMBatch == 0 {
		o.ScoreCAMBatch = 16
	}
	if o.AblationBatch == 0 {
		o.AblationBatch = 32
	}
	return o
}

func (o PerturbationOptions) check() error {
	if o.ScoreCAMBatch < 1 || o.AblationBatch < 1 {
		return fmt.Errorf("Score-CAM and Ablation-CAM need batch sizes >= 1; got %d and %d", o.ScoreCAMBatch, o.AblationBatch)
	}
	return nil
}

// perturbationWeights fills the per-channel weights of Score-CAM's and Ablation-CAM's layer
// results (k classes per image, already resolved) when methods (the request's, and Guided
// Grad-CAM's CAM) hold them.
func (e *Explainer) perturbationWeights(images *tensors.Tensor, req Request, methods []Method, k int, result Results,
	layerResults map[*Explanation]map[Method][]layerResult) error {
	dims := images.Shape().Dimensions
	b, size := dims[0], shapeSize(dims[1:])
	var pixels []float32 // copied only when a method perturbs the images
	for _, method := range []Method{ScoreCAM, AblationCAM} {
		if !slices.Contains(methods, method) {
			continue
		}
		if pixels == nil {
			pixels = toFloat32(images)
		}
		for i := range b {
			x := pixels[i*size : (i+1)*size]
			classes := make([]int32, k)
			for j := range k {
				classes[j] = int32(result[i*k+j].Class)
			}
			for l, layer := range req.Layers {
				first := layerResults[result[i*k]][method][l]
				c := first.termsShape[len(first.termsShape)-1]
				if c == 0 {
					return fmt.Errorf("%s needs a layer with channels; %s has none", method.Title(), layer)
				}
				var weights [][]float32
				var err error
				if method == ScoreCAM {
					weights, err = e.scoreCAMWeights(x, dims[1:], first.terms, first.termsShape, classes, req)
				} else {
					weights, err = e.ablationWeights(x, dims[1:], first.terms, first.termsShape, layer, classes, req)
				}
				if err != nil {
					return fmt.Errorf("%s at %s: %w", method.Title(), layer, err)
				}
				for j := range k {
					lr := layerResults[result[i*k+j]][method]
					lr[l].weights = weights[j]
				}
			}
		}
	}
	return nil
}

// scoreCAMWeights are Score-CAM's weights [class][channel] for one input x (shape inDims) and
// its activations a (channels-last, shape aShape).
func (e *Explainer) scoreCAMWeights(x []float32, inDims []int, a []float32, aShape []int, classes []int32, req Request) ([][]float32, error) {
	exec, err := e.scoreExec(req.Target)
	if err != nil {
		return nil, err
	}
	k := len(classes)
	c := aShape[len(aShape)-1]
	h, w := 1, aShape[0]
	if len(aShape) == 3 {
		h, w = aShape[0], aShape[1]
	}
	ch, oh, ow := inDims[0], 1, inDims[1]
	if len(inDims) == 3 {
		oh, ow = inDims[1], inDims[2]
	}
	hw, size := oh*ow, len(x)
	scores := make([][]float32, k) // [class][channel]
	for j := range scores {
		scores[j] = make([]float32, c)
	}
	channel := make([]float32, h*w)
	batchSize := req.Perturbation.ScoreCAMBatch
	for start := 0; start < c; start += batchSize {
		n := min(batchSize, c-start)
		batch := make([]float32, n*size)
		cls := make([]int32, n*k)
		for r := range n {
			for p := range h * w {
				channel[p] = a[p*c+start+r]
			}
			mask := heatmap.ResizeAlignCorners(channel, h, w, oh, ow)
			lo, hi := slices.Min(mask), slices.Max(mask)
			for p, v := range mask {
				mask[p] = (v - lo) / (hi - lo + 1e-8)
			}
			for q := range ch {
				for p := range hw {
					batch[r*size+q*hw+p] = x[q*hw+p] * mask[p]
				}
			}
			copy(cls[r*k:], classes)
		}
		out, err := e.run(exec, "Score-CAM forward", fromFloat32(batch, e.Model.DType(), append([]int{n}, inDims...)...),
			tensors.FromFlatDataAndDimensions(cls, n, k))
		if err != nil {
			return nil, err
		}
		for r := range n {
			for j := range k {
				scores[j][start+r] = out[0][r*k+j]
			}
		}
	}
	for j := range k {
		scores[j] = softmax(scores[j])
	}
	return scores, nil
}

// softmax of v, in float64.
func softmax(v []float32) []float32 {
	top := float64(slices.Max(v))
	out := make([]float32, len(v))
	sum := 0.0
	for _, x := range v {
		sum += math.Exp(float64(x) - top)
	}
	for i, x := range v {
		out[i] = float32(math.Exp(float64(x)-top) / sum)
	}
	return out
}

// ablationWeights are Ablation-CAM's weights [class][channel] for one input x whose activations
// at layer are a (channels-last, shape aShape).
func (e *Explainer) ablationWeights(x []float32, inDims []int, a []float32, aShape []int, layer string, classes []int32, req Request) ([][]float32, error) {
	k, c := len(classes), aShape[len(aShape)-1]
	image := fromFloat32(x, e.Model.DType(), append([]int{1}, inDims...)...)
	acts := fromFloat32(a, e.Model.DType(), append([]int{1}, aShape...)...)
	defer image.FinalizeAll()
	defer acts.FinalizeAll()
	cls := tensors.FromFlatDataAndDimensions(classes, 1, k)
	// Row -1 ablates nothing: the unablated score, from the same graph.
	channels := make([]int32, c+1)
	channels[0] = -1
	for i := range c {
		channels[i+1] = int32(i)
	}
	scores := make([]float32, 0, (c+1)*k)
	batchSize := req.Perturbation.AblationBatch
	for start := 0; start < len(channels); start += batchSize {
		chunk := channels[start:min(start+batchSize, len(channels))]
		out, err := e.ablate(layer, req.Target, image, acts, tensors.FromFlatDataAndDimensions(slices.Clone(chunk), len(chunk)), cls)
		if err != nil {
			return nil, err
		}
		scores = append(scores, out...)
	}
	weights := make([][]float32, k)
	for j := range k {
		y := scores[j]
		div := float32(math.Abs(float64(y)))
		if div == 0 {
			div = 1
		}
		weights[j] = make([]float32, c)
		for ch := range c {
			weights[j][ch] = (y - scores[(ch+1)*k+j]) / div
		}
	}
	return weights, nil
}

// ablate returns the target scores [len(channels) * k] with each row's channel of layer
// ablated, trying first the graph that starts from the layer's activations acts.
func (e *Explainer) ablate(layer string, target Target, image, acts, channels, classes *tensors.Tensor) ([]float32, error) {
	for _, atInput := range []bool{false, true} {
		key := fmt.Sprintf("ablate|%s|%s|%t", layer, target.Name, atInput)
		if !atInput && e.wholeForwards[key] {
			continue
		}
		exec, err := e.ablationExec(key, layer, target, atInput)
		if err != nil {
			return nil, err
		}
		out, err := e.run(exec, "Ablation-CAM forward", image, acts, channels, classes)
		if err != nil && !atInput {
			e.wholeForwards[key] = true // the layer-batch graph does not build for this network
			continue
		}
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	panic("unreachable")
}

// ablationExec builds the graph of ablated scores: image [1, ...], the layer's activations acts
// [1, h, w, C] (channels-last), channels [N] (-1: none), classes [1, K] -> scores [N, K]. The
// layer's output is replaced by acts repeated N times with each row's channel ablated, so only
// the layers after it run (the ones before it are built but unused: the backend computes what
// the outputs need). With atInput the image is repeated N times and the whole network runs,
// for networks where an activation from before the layer joins the ones after it.
func (e *Explainer) ablationExec(key, layer string, target Target, atInput bool) (*context.Exec, error) {
	if exec, ok := e.execs[key]; ok {
		return exec, nil
	}
	m := e.Model
	exec, err := context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, image, acts, channels, classes *Node) *Node {
		e.stats.GraphBuilds++
		n := channels.Shape().Dimensions[0]
		in := image
		if atInput {
			in = BroadcastToDims(image, append([]int{n}, image.Shape().Dimensions[1:]...)...)
		}
		var replaced *Node
		fw := m.ForwardWith(ctx, in, nn.Config{Plain: true, Replace: func(path string, x *Node) *Node {
			if path != layer || x == replaced {
				return x
			}
			if !atInput {
				x = acts
			}
			d := x.Shape().Dimensions
			if d[0] != n {
				d = append([]int{n}, d[1:]...)
				x = BroadcastToDims(x, d...)
			}
			g := x.Graph()
			rank := len(d)
			chShape := make([]int, rank)
			for i := range chShape {
				chShape[i] = 1
			}
			chShape[0] = n
			iotaShape := slices.Clone(chShape)
			iotaShape[0], iotaShape[rank-1] = 1, d[rank-1]
			mask := Equal(Reshape(channels, chShape...), Iota(g, shapes.Make(dtypes.Int32, iotaShape...), rank-1))
			lowest := ReduceAllMin(x)
			value := Where(Equal(lowest, ScalarZero(g, x.DType())), ScalarZero(g, x.DType()), AddScalar(lowest, -1e7))
			replaced = Where(BroadcastToDims(mask, d...), BroadcastToDims(value, d...), x)
			return replaced
		}})
		logits := fw.Output
		k := classes.Shape().Dimensions[1]
		cols := make([]*Node, k)
		for j := range k {
			class := BroadcastToDims(Reshape(Slice(classes, AxisRange(), AxisRange(j, j+1)), 1), n)
			cols[j] = target.Fn(logits, class)
		}
		return Stack(cols, 1)
	})
	if err != nil {
		return nil, err
	}
	e.execs[key] = exec
	return exec, nil
}

// run executes exec and returns its outputs as float32, freeing them.
func (e *Explainer) run(exec *context.Exec, what string, inputs ...any) ([][]float32, error) {
	var outs []*tensors.Tensor
	err := catch.Panic(func() (err error) {
		outs, err = exec.Exec(inputs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	e.stats.Executions++
	res := make([][]float32, len(outs))
	for i, t := range outs {
		res[i] = toFloat32(t)
		t.FinalizeAll()
	}
	return res, nil
}
