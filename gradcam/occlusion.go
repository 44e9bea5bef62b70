package gradcam

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/nn"
)

// OcclusionOptions configure the occlusion method (Zeiler & Fergus): a square patch of the
// dataset's mean colour (0 after normalization) slides over the image; each pixel's value is the
// mean drop of the target score over the patches that cover it.
type OcclusionOptions struct {
	Patch  int // side of the square patch, pixels; 0: a quarter of the image's shorter side
	Stride int // step between patch positions, pixels (the last position touches the edge); 0: half the patch
	// BatchSize is the number of occluded images per forward execution; 0 sizes it by Memory.
	BatchSize int
	// Memory bounds the activation memory of one forward pass when BatchSize is 0, in bytes (0:
	// DefaultOcclusionMemory): as many occluded images as fit, at most 7 (49 positions = 7 x 7,
	// one compiled batch shape for every chunk; larger batches are no faster on the pure-Go
	// backend), at least 1.
	Memory int64
}

// DefaultOcclusionMemory is OcclusionOptions.Memory's default. VGG-16 at 224x224 takes 7 images
// a pass with it (notebook 01's figure on VGG-16 peaks at 1.5 GB); a 512x512 input to it, 2.
const DefaultOcclusionMemory = 512 << 20

// DefaultOcclusionFor is the occlusion geometry for h x w images: a patch of a quarter of the
// shorter side, every half patch (for 224x224 images, a 56-pixel patch every 28 pixels: 49
// positions), in forward passes sized by memory.
func DefaultOcclusionFor(h, w int) OcclusionOptions {
	patch := max(1, min(h, w)/4)
	return OcclusionOptions{Patch: patch, Stride: max(1, patch/2)}
}

// withDefaults fills what o leaves at 0 for h x w images: the patch from DefaultOcclusionFor, the
// stride half the patch; the batch size stays (0 sizes it by memory). A stride or batch size
// given without a patch is kept.
func (o OcclusionOptions) withDefaults(h, w int) OcclusionOptions {
	if o.Patch == 0 {
		o.Patch = DefaultOcclusionFor(h, w).Patch
	}
	if o.Stride == 0 {
		o.Stride = max(1, o.Patch/2)
	}
	return o
}

// check validates the options for h x w images.
func (o OcclusionOptions) check(h, w int) error {
	if o.Patch < 1 || o.Patch > min(h, w) || o.Stride < 1 || o.BatchSize < 0 || o.Memory < 0 {
		return fmt.Errorf("occlusion needs 1 <= patch <= %d (the image's shorter side), stride >= 1, batch size >= 0 "+
			"(0: sized by memory) and memory >= 0; got patch %d, stride %d, batch %d, memory %d", min(h, w), o.Patch, o.Stride, o.BatchSize, o.Memory)
	}
	return nil
}

// occlusionBatch is the batch of occluded images per forward pass when BatchSize is 0. An
// image's forward pass holds about four activations of its largest layer at once (a layer's
// input and output, a convolution's patch tile, the next output), scaled from the network's
// batch-1 shapes to the input's size.
func (e *Explainer) occlusionBatch(h, w int, memory int64) int {
	return e.perturbedBatch(h, w, memory, 7)
}

// perturbedBatch is the number of perturbed h x w images a forward pass of at most the given
// activation memory holds (0: DefaultOcclusionMemory), between 1 and most.
func (e *Explainer) perturbedBatch(h, w int, memory int64, most int) int {
	if memory == 0 {
		memory = DefaultOcclusionMemory
	}
	largest := 0
	for _, l := range e.desc.Layers {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		largest = max(largest, n)
	}
	if in := e.desc.Input; len(in) == 3 && in[1] > 0 && in[2] > 0 {
		largest = largest * (h * w) / (in[1] * in[2])
	}
	per := int64(max(largest, 1)) * 4 * int64(e.Model.DType().Size())
	return int(min(int64(most), max(1, memory/per)))
}

// positions lists the patch offsets along one side: every stride, plus one flush with the end.
func (o OcclusionOptions) positions(size int) []int {
	var p []int
	for x := 0; x+o.Patch < size; x += o.Stride {
		p = append(p, x)
	}
	return append(p, size-o.Patch)
}

// scoreExec returns the cached executor of target scores for a batch, [B, K], with a
// forward-only network.
func (e *Explainer) scoreExec(target Target) (*context.Exec, error) {
	key := "score|" + target.Name
	if exec, ok := e.execs[key]; ok {
		return exec, nil
	}
	exec, err := context.NewExec(e.Model.Backend(), e.Model.Context(), func(ctx *context.Context, images, classes *Node) *Node {
		e.stats.GraphBuilds++
		logits := e.Model.ForwardWith(ctx, images, nn.Config{Plain: true}).Output
		k := classes.Shape().Dimensions[1]
		cols := make([]*Node, k)
		for j := range k {
			cols[j] = target.Fn(logits, Squeeze(Slice(classes, AxisRange(), AxisRange(j, j+1)), 1))
		}
		return Stack(cols, 1)
	})
	if err != nil {
		return nil, err
	}
	e.execs[key] = exec
	return exec, nil
}

// occlude fills the occlusion maps of result (k classes per image, already resolved).
func (e *Explainer) occlude(images *tensors.Tensor, target Target, o OcclusionOptions, k int, result Results) error {
	exec, err := e.scoreExec(target)
	if err != nil {
		return err
	}
	d := images.Shape().Dimensions
	b, ch, height, width := d[0], d[1], d[2], d[3]
	hw := height * width
	pixels := toFloat32(images)
	type window struct{ y, x int }
	var windows []window
	for _, y := range o.positions(height) {
		for _, x := range o.positions(width) {
			windows = append(windows, window{y, x})
		}
	}
	score := func(batch []float32, n int, classes []int32) ([]float32, error) {
		outs, err := e.run(exec, "occlusion forward", fromFloat32(batch, e.Model.DType(), n, ch, height, width),
			tensors.FromFlatDataAndDimensions(classes, n, k))
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}
	batchSize := o.BatchSize
	if batchSize == 0 {
		batchSize = e.occlusionBatch(height, width, o.Memory)
	}
	for i := range b {
		img := pixels[i*ch*hw : (i+1)*ch*hw]
		classes := make([]int32, k)
		for j := range k {
			classes[j] = int32(result[i*k+j].Class)
		}
		base, err := score(img, 1, classes)
		if err != nil {
			return err
		}
		sum := make([][]float32, k)
		for j := range sum {
			sum[j] = make([]float32, hw)
		}
		count := make([]float32, hw)
		for start := 0; start < len(windows); start += batchSize {
			chunk := windows[start:min(start+batchSize, len(windows))]
			batch := make([]float32, len(chunk)*ch*hw)
			cls := make([]int32, len(chunk)*k)
			for n, w := range chunk {
				copy(batch[n*ch*hw:], img)
				for c := range ch {
					for y := w.y; y < w.y+o.Patch; y++ {
						row := batch[n*ch*hw+c*hw+y*width+w.x:]
						clear(row[:o.Patch])
					}
				}
				copy(cls[n*k:], classes)
			}
			scores, err := score(batch, len(chunk), cls)
			if err != nil {
				return err
			}
			for n, w := range chunk {
				for y := w.y; y < w.y+o.Patch; y++ {
					for x := w.x; x < w.x+o.Patch; x++ {
						for j := range k {
							sum[j][y*width+x] += base[j] - scores[n*k+j]
						}
						count[y*width+x]++
					}
				}
			}
		}
		for j := range k {
			for p := range hw {
				if count[p] > 0 { // a stride longer than the patch leaves pixels no patch covers: 0, not 0/0
					sum[j][p] /= count[p]
				}
			}
			result[i*k+j].Maps[Occlusion] = &Map{Method: Occlusion, Values: sum[j], Shape: []int{height, width},
				AllZero: allZero(sum[j], false)}
		}
	}
	return nil
}

// Scores returns the target's score of one class per image for a batch of images [B, C, H, W]
// (one forward pass, no gradients): what perturbation metrics (package metrics) measure as
// pixels are removed or inserted. Each class must be in the model's range.
func (e *Explainer) Scores(images *tensors.Tensor, target Target, classes []int) ([]float32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if dt := images.Shape().DType; dt != e.Model.DType() && (dt == dtypes.Float32 || dt == dtypes.Float64) {
		images = fromFloat32(toFloat32(images), e.Model.DType(), images.Shape().Dimensions...)
	}
	if err := e.desc.CheckInput(images, e.Model.DType()); err != nil {
		return nil, err
	}
	b := images.Shape().Dimensions[0]
	if len(classes) != b {
		return nil, fmt.Errorf("scores: %d classes for %d images", len(classes), b)
	}
	cls := make([]int32, b)
	for i, c := range classes {
		if c < 0 || c >= e.desc.Outputs {
			return nil, fmt.Errorf("class %d is out of range: %s has %d outputs (0..%d)", c, e.desc.Name, e.desc.Outputs, e.desc.Outputs-1)
		}
		cls[i] = int32(c)
	}
	exec, err := e.scoreExec(target)
	if err != nil {
		return nil, err
	}
	outs, err := e.run(exec, "scores", images, tensors.FromFlatDataAndDimensions(cls, b, 1))
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// InputGradient returns the target's score of one class per image, and its gradient with
// respect to the input (plain backpropagation), [B, C, H, W] flattened: what an adversarial
// attack (package attack) or an attribution of one's own steps along. Each class must be in the
// model's range.
func (e *Explainer) InputGradient(images *tensors.Tensor, target Target, classes []int) (scores, grad []float32, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if dt := images.Shape().DType; dt != e.Model.DType() && (dt == dtypes.Float32 || dt == dtypes.Float64) {
		images = fromFloat32(toFloat32(images), e.Model.DType(), images.Shape().Dimensions...)
	}
	if err := e.desc.CheckInput(images, e.Model.DType()); err != nil {
		return nil, nil, err
	}
	b := images.Shape().Dimensions[0]
	if len(classes) != b {
		return nil, nil, fmt.Errorf("input gradient: %d classes for %d images", len(classes), b)
	}
	cls := make([]int32, b)
	for i, c := range classes {
		if c < 0 || c >= e.desc.Outputs {
			return nil, nil, fmt.Errorf("class %d is out of range: %s has %d outputs (0..%d)", c, e.desc.Name, e.desc.Outputs, e.desc.Outputs-1)
		}
		cls[i] = int32(c)
	}
	exec, err := e.gradientExec(target, nn.Backprop)
	if err != nil {
		return nil, nil, err
	}
	outs, err := e.run(exec, "input gradient", images, tensors.FromFlatDataAndDimensions(cls, b))
	if err != nil {
		return nil, nil, err
	}
	return outs[0], outs[1], nil
}
