package gradcam

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models"
)

// OcclusionOptions configure the occlusion method (Zeiler & Fergus): a square patch of the
// dataset's mean colour (0 after normalization) slides over the image; each pixel's value is the
// mean drop of the target score over the patches that cover it.
type OcclusionOptions struct {
	Patch     int // side of the square patch, pixels
	Stride    int // step between patch positions, pixels; the last position touches the edge
	BatchSize int // occluded images per forward execution
}

// DefaultOcclusion is a 56-pixel patch every 28 pixels (49 positions), 7 images per forward:
// 49 = 7 x 7, so one compiled batch shape serves every chunk. Larger batches are no faster on the
// pure-Go backend (the batch-1 products already fill the cores) and cost memory: VGG-16 peaked at
// 13 GB with 16 images per forward.
var DefaultOcclusion = OcclusionOptions{Patch: 56, Stride: 28, BatchSize: 7}

func (o OcclusionOptions) check() error {
	if o.Patch < 1 || o.Patch > models.InputSize || o.Stride < 1 || o.BatchSize < 1 {
		return fmt.Errorf("occlusion needs 1 <= patch <= %d, stride >= 1 and batch size >= 1; got patch %d, stride %d, batch %d",
			models.InputSize, o.Patch, o.Stride, o.BatchSize)
	}
	return nil
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
		logits := e.Model.ForwardInference(ctx, images).Logits
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

// occlude fills the occlusion maps of result (classes already resolved).
func (e *Explainer) occlude(images *tensors.Tensor, req Request, result []*Explanation) error {
	exec, err := e.scoreExec(req.Target)
	if err != nil {
		return err
	}
	o := req.Occlusion
	const size = models.InputSize
	hw := size * size
	b, k := images.Shape().Dimensions[0], len(req.Classes)
	pixels := toFloat32(images)
	pos := o.positions(size)
	type window struct{ y, x int }
	var windows []window
	for _, y := range pos {
		for _, x := range pos {
			windows = append(windows, window{y, x})
		}
	}
	score := func(batch []float32, n int, classes []int32) ([]float32, error) {
		var outs []*tensors.Tensor
		err := catch.Panic(func() (err error) {
			outs, err = exec.Exec(fromFloat32(batch, e.Model.DType(), n, 3, size, size),
				tensors.FromFlatDataAndDimensions(classes, n, k))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("occlusion forward: %w", err)
		}
		e.stats.Executions++
		defer outs[0].FinalizeAll()
		return toFloat32(outs[0]), nil
	}
	for i := range b {
		img := pixels[i*3*hw : (i+1)*3*hw]
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
		for start := 0; start < len(windows); start += o.BatchSize {
			chunk := windows[start:min(start+o.BatchSize, len(windows))]
			batch := make([]float32, len(chunk)*3*hw)
			cls := make([]int32, len(chunk)*k)
			for n, w := range chunk {
				copy(batch[n*3*hw:], img)
				for c := range 3 {
					for y := w.y; y < w.y+o.Patch; y++ {
						row := batch[n*3*hw+c*hw+y*size+w.x:]
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
							sum[j][y*size+x] += base[j] - scores[n*k+j]
						}
						count[y*size+x]++
					}
				}
			}
		}
		for j := range k {
			for p := range hw {
				sum[j][p] /= count[p]
			}
			result[i*k+j].Maps[Occlusion] = &Map{Method: Occlusion, Values: sum[j], Shape: []int{size, size},
				AllZero: allZero(sum[j], false)}
		}
	}
	return nil
}
