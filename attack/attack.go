// Package attack makes adversarial images, for the Grad-CAM paper's Section 6.3: a targeted
// projected gradient descent (PGD, Madry et al. 2018) under an L∞ budget on the pixels, stepping
// along the sign of the explainer's input gradient of the target's log-probability. The image it
// returns is 8-bit, and the attack counts as reached only if the rounded image is still
// classified as the target.
package attack

import (
	"fmt"
	"image"
	"image/color"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Options configure Targeted. The zero value is the usual ImageNet budget: ε = 8/255, at most 40
// steps of 2.5ε/40 (Madry et al.'s step: the walk can cross the budget's width in 40% of the
// steps, and small steps change the image no more than the target needs).
type Options struct {
	// Epsilon is the L∞ budget in pixel units (0..1): no pixel moves further from the original.
	// 0: 8/255.
	Epsilon float64
	// Steps is the number of gradient steps; 0: 40. The attack stops early once the 8-bit image
	// is classified as the target with at least StopAt probability.
	Steps int
	// StepSize is each step's move of every pixel, in pixel units; 0: 2.5 Epsilon / Steps.
	StepSize float64
	// StopAt ends the attack once the rounded image's target probability reaches it; 0: 0.9.
	StopAt float64
}

func (o Options) withDefaults() Options {
	if o.Epsilon == 0 {
		o.Epsilon = 8.0 / 255
	}
	if o.Steps == 0 {
		o.Steps = 40
	}
	if o.StepSize == 0 && o.Steps > 0 {
		o.StepSize = 2.5 * o.Epsilon / float64(o.Steps)
	}
	if o.StopAt == 0 {
		o.StopAt = 0.9
	}
	return o
}

func (o Options) check() error {
	switch {
	case !(o.Epsilon > 0 && o.Epsilon <= 1):
		return fmt.Errorf("attack: epsilon %g is outside (0, 1]: it is the largest change of a pixel in 0..1 units (8/255 is usual)", o.Epsilon)
	case o.Steps < 1:
		return fmt.Errorf("attack: %d steps: give at least 1", o.Steps)
	case !(o.StepSize > 0 && o.StepSize <= 1):
		return fmt.Errorf("attack: step size %g is outside (0, 1]", o.StepSize)
	case !(o.StopAt > 0 && o.StopAt <= 1):
		return fmt.Errorf("attack: stop probability %g is outside (0, 1]", o.StopAt)
	}
	return nil
}

// Result is an attack's outcome.
type Result struct {
	// Image is the adversarial image at the model's input size, 8-bit (what a PNG stores).
	Image *image.RGBA
	// Pixels is the attack's float image before rounding, [C, H, W] in 0..1 (C = 3, RGB).
	Pixels []float32
	// Target is the class attacked towards; Probability its softmax probability on the 8-bit
	// Image, and Top the class the model predicts there (with TopProbability).
	Target         int
	Probability    float64
	Top            int
	TopProbability float64
	// Original is the class predicted on the clean image, with its probability.
	Original            int
	OriginalProbability float64
	// LInf is the largest change of any pixel of the 8-bit image, in 0..1 units (whole 8-bit
	// levels / 255): at most Epsilon.
	LInf float64
	// Steps is the number of gradient steps taken.
	Steps int
}

// Reached reports whether the 8-bit image is classified as the target.
func (r *Result) Reached() bool { return r.Top == r.Target }

// Targeted attacks img (already at the model's input size: Transform.Fit) towards class target:
// x ← clip(x + StepSize·sign(∇ log p_target), x₀ ± Epsilon, [0, 1]), the gradient taken through
// the model's normalization (t.Mean, t.Std). The budget is kept on 8-bit values: each pixel's
// allowed range is rounded inwards to whole levels, so the rounded image stays within Epsilon.
func Targeted(e *gradcam.Explainer, t preprocess.Transform, img *image.RGBA, target int, o Options) (*Result, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	m := e.Describe()
	if t.Channels != 3 {
		return nil, fmt.Errorf("attack: %s takes %d-channel images; the attack works on RGB images", m.Name, t.Channels)
	}
	if target < 0 || target >= m.Outputs {
		return nil, fmt.Errorf("attack: target class %d is out of range: %s has %d outputs (0..%d)", target, m.Name, m.Outputs, m.Outputs-1)
	}
	if b := img.Bounds(); b.Dx() != t.Width || b.Dy() != t.Height {
		return nil, fmt.Errorf("attack: the image is %dx%d; fit it to the model's %dx%d first (Transform.Fit)", b.Dx(), b.Dy(), t.Width, t.Height)
	}
	h, w := t.Height, t.Width
	hw := h * w
	x0 := make([]float32, 3*hw)
	lo, hi := make([]float32, 3*hw), make([]float32, 3*hw)
	for y := range h {
		for x := range w {
			px := img.RGBAAt(x+img.Bounds().Min.X, y+img.Bounds().Min.Y)
			for c, v := range [3]uint8{px.R, px.G, px.B} {
				i := c*hw + y*w + x
				x0[i] = float32(v) / 255
				// The budget in whole 8-bit levels, rounded inwards.
				d := math.Floor(o.Epsilon*255 + 1e-9)
				lo[i] = float32(math.Max(0, float64(v)-d) / 255)
				hi[i] = float32(math.Min(255, float64(v)+d) / 255)
			}
		}
	}
	normalize := func(p []float32) *tensors.Tensor {
		out := make([]float32, len(p))
		for c := range 3 {
			for j := range hw {
				v := p[c*hw+j]
				if t.Mean != nil {
					v = (v - t.Mean[c]) / t.Std[c]
				}
				out[c*hw+j] = v
			}
		}
		return tensors.FromFlatDataAndDimensions(out, 1, 3, h, w)
	}
	quantize := func(p []float32) []float32 {
		q := make([]float32, len(p))
		for i, v := range p {
			q[i] = float32(math.Round(float64(v)*255)) / 255
		}
		return q
	}
	classify := func(p []float32) (top int, topP, targetP float64, err error) {
		logits, err := e.Logits(normalize(p))
		if err != nil {
			return 0, 0, 0, err
		}
		ranked := models.TopK(logits[0], nil, len(logits[0]))
		for _, r := range ranked {
			if r.Class == target {
				targetP = r.Probability
			}
		}
		return ranked[0].Class, ranked[0].Probability, targetP, nil
	}
	res := &Result{Target: target}
	var err error
	if res.Original, res.OriginalProbability, _, err = classify(x0); err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	cur := append([]float32(nil), x0...)
	step := float32(o.StepSize)
	for res.Steps < o.Steps {
		_, grad, err := e.InputGradient(normalize(cur), LogProbability(), []int{target})
		if err != nil {
			return nil, fmt.Errorf("attack: step %d: %w", res.Steps+1, err)
		}
		for i, g := range grad {
			switch {
			case g > 0:
				cur[i] += step
			case g < 0:
				cur[i] -= step
			}
			cur[i] = min(max(cur[i], lo[i]), hi[i])
		}
		res.Steps++
		top, _, p, err := classify(quantize(cur))
		if err != nil {
			return nil, fmt.Errorf("attack: %w", err)
		}
		if top == target && p >= o.StopAt {
			break
		}
	}
	res.Pixels = cur
	q := quantize(cur)
	if res.Top, res.TopProbability, res.Probability, err = classify(q); err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	res.Image = image.NewRGBA(image.Rect(0, 0, w, h))
	levels := 0 // the largest change in 8-bit levels
	for y := range h {
		for x := range w {
			j := y*w + x
			var px [3]uint8
			for c := range 3 {
				px[c] = uint8(math.Round(float64(q[c*hw+j]) * 255))
				orig := int(math.Round(float64(x0[c*hw+j]) * 255))
				levels = max(levels, abs(int(px[c])-orig))
			}
			res.Image.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	res.LInf = float64(levels) / 255
	return res, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// LogProbability targets the log-softmax of the class: the attack's loss, steeper than the
// probability where the target is unlikely.
func LogProbability() gradcam.Target {
	return gradcam.Target{Name: "log-probability", Fn: func(logits, class *Node) *Node {
		return gradcam.Logit().Fn(LogSoftmax(logits, 1), class)
	}}
}
