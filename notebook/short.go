package notebook

import (
	"cmp"
	"fmt"
	"html"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/janpfeifer/gonb/gonbui"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/catalog"
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/environ"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/store"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/pretrained/embedded"
)

// Error shows err in the cell as one red line and reports whether there was one. The helpers
// below call it, so a cell keeps going without a must helper: a failed step returns nil, and
// the helpers given nil do nothing (the first error is the one shown).
func Error(err error) bool {
	if err == nil {
		return false
	}
	displayHTML(`<pre style="color:#b00;white-space:pre-wrap">` + html.EscapeString(err.Error()) + `</pre>`)
	if !gonbui.IsNotebook {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	return true
}

// Load returns a model as the command line resolves one (package catalog): a torchvision
// architecture by name with its ImageNet weights, or with a checkpoint file if one is given (a
// fine-tuned one included), or a demo network (fashion-gap, fashion-fc). With $GRADCAM_WEIGHTS
// unset, an architecture whose real weights are in ../shared/weights (squeezenet1_0,
// mobilenet_v2) loads them. With no name it is
// $GRADCAM_MODEL, else VGG-16, and on a machine that can neither find nor download VGG-16's
// weights, the MobileNetV2 embedded in the toolkit (embedded.Load). It prints one line saying
// what was loaded; on failure it shows the error and returns nil.
func Load(name string, checkpoint ...string) *models.Model {
	r := catalog.Ref{Name: name}
	if name != "" && len(checkpoint) == 0 && os.Getenv("GRADCAM_WEIGHTS") == "" {
		// The real ImageNet weights beside the repository (SqueezeNet, MobileNetV2), if any.
		if p := store.FindWeights(Shared("weights"), name); p != "" {
			checkpoint = []string{p}
		}
	}
	if len(checkpoint) > 0 {
		r = catalog.Ref{Name: cmp.Or(name, environ.Model(), embedded.DefaultModel), Weights: checkpoint[0]}
	}
	if r.Name == "" {
		r.Name = environ.Model()
	}
	m, err := catalog.Load(r, os.Stdout, environ.ModelOptions()...)
	if Error(err) {
		return nil
	}
	fmt.Printf("%s (%d outputs) from %s, on %s\n", m.Name, m.Outputs, m.Source, computesOn(m))
	return m
}

// computesOn says what the model computes on: the backend's name, and the first time in a cell's
// run, which matrix multiply it uses (backend.Summary): a notebook shows no stderr announcement,
// and the scalar fallback is about 50 times slower.
func computesOn(m *models.Model) string {
	said := false
	announceOnce.Do(func() { said = true })
	if !said {
		return m.Backend().Name()
	}
	return backend.Summary(m.Backend())
}

var announceOnce sync.Once

// LoadONNX loads a CNN saved as ONNX (models.LoadONNX) and prints what it is; on an error it
// shows the error in the cell and returns nil. A relative path not found in the working
// directory is looked up beside the notebook ($GONB_DIR).
func LoadONNX(path string) *models.Model {
	if _, err := os.Stat(path); err != nil && !filepath.IsAbs(path) && os.Getenv("GONB_DIR") != "" {
		path = filepath.Join(os.Getenv("GONB_DIR"), path)
	}
	m, err := models.LoadONNX(path, environ.ModelOptions()...)
	if Error(err) {
		return nil
	}
	cam := "no CAM (" + m.NoCAM + ")"
	if m.CAM != nil {
		cam = "CAM at " + m.CAM.Layer
	}
	fmt.Printf("%s (%d outputs, %d layers; %s) from %s, on %s\n", m.Name, m.Outputs, len(m.Layers), cam, m.Source, computesOn(m))
	return m
}

// Batch is a batch of images ready for a model: the input tensor and the pictures it was made
// of (at the model's input size), for overlays.
type Batch struct {
	Input    *tensors.Tensor
	Pictures []*image.RGBA
	Names    []string
}

// ImagesDir is where Images looks for files given without a folder: $GRADCAM_IMAGES, else
// ../shared/images beside the repository.
func ImagesDir() string {
	if d := os.Getenv("GRADCAM_IMAGES"); d != "" {
		return d
	}
	return Shared("images")
}

// Shared is a path in ../shared beside the repository ($GRADCAM_SHARED when set): the test
// images, and the real ImageNet weights (weights/) Load takes when $GRADCAM_WEIGHTS is unset.
func Shared(parts ...string) string {
	dir := os.Getenv("GRADCAM_SHARED")
	if dir == "" {
		dir = filepath.Join(os.Getenv("GONB_DIR"), "..", "..", "shared")
		if os.Getenv("GONB_DIR") == "" { // outside a notebook: beside the working directory's repository
			dir = filepath.Join("..", "shared")
		}
	}
	return filepath.Join(append([]string{dir}, parts...)...)
}

// Images loads image files for the model with its preprocessing (models.Model.Transform,
// stretched to its input size). Names without a folder are looked up in ImagesDir. On failure
// it shows the error and returns nil; given a nil model it does nothing.
func Images(m *models.Model, files ...string) *Batch {
	if m == nil {
		return nil
	}
	t, err := m.Transform(preprocess.Stretch)
	if Error(err) {
		return nil
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f
		if filepath.Base(f) == f {
			paths[i] = filepath.Join(ImagesDir(), f)
		}
	}
	x, pics, err := t.Preprocess(paths...)
	if Error(err) {
		return nil
	}
	return &Batch{Input: x, Pictures: pics, Names: files}
}

// Style says how maps are drawn.
type Style struct {
	Colormap render.Colormap // default render.Jet
	// ImageWeight is the image's share in heatmap overlays (pytorch-grad-cam's image_weight),
	// in (0, 1]; 0 means 0.5.
	ImageWeight float64
	// Zoom enlarges the figures by a whole factor (nearest neighbour), for small inputs such
	// as Fashion-MNIST's 28x28; 0 means 1.
	Zoom int
}

// Explain explains the batch with the request, shows one row per image and class (the image,
// then each method's picture, captioned with the class and its probability), and returns the
// results (results.At(image, k)). On failure it shows the error and returns nil.
func Explain(m gradcam.Model, b *Batch, req gradcam.Request, style ...Style) gradcam.Results {
	if missing(m) || b == nil {
		return nil
	}
	res, err := ExplainerOf(m).Explain(b.Input, req)
	if Error(err) {
		return nil
	}
	s := Style{}
	if len(style) > 0 {
		s = style[0]
	}
	for _, ex := range res {
		figs, err := ExplanationFigures(b.Pictures[ex.Image], ex, s, req.Methods...)
		if Error(err) {
			return nil
		}
		figs[0].Caption = b.Names[ex.Image]
		if Error(Figures(figs...)) {
			return nil
		}
	}
	return res
}

// ExplainerOf returns the model's explainer, made on first use and kept for the cell's run, so
// that Explain, Explore and the figure helpers reuse its compiled graphs: a second explanation of
// the same model and request shape compiles nothing.
func ExplainerOf(m gradcam.Model) *gradcam.Explainer {
	explainersMu.Lock()
	defer explainersMu.Unlock()
	e := explainers[m]
	if e == nil {
		e = gradcam.New(m)
		explainers[m] = e
	}
	return e
}

var (
	explainersMu sync.Mutex
	explainers   = map[gradcam.Model]*gradcam.Explainer{}
)

// missing reports whether m is nil, or a nil model in an interface (what Load returns on failure).
func missing(m gradcam.Model) bool {
	if m == nil {
		return true
	}
	v := reflect.ValueOf(m)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// FromSet takes examples of a dataset (data.Set, e.g. Fashion-MNIST) as a batch; their
// pictures are drawn from the values, which must be pixels in [0, 1] (1 or 3 channels).
func FromSet(set *data.Set, idx ...int) *Batch {
	if set == nil {
		return nil
	}
	b := &Batch{}
	for _, i := range idx {
		img, err := set.Picture(i)
		if Error(err) {
			return nil
		}
		b.Pictures = append(b.Pictures, img)
		name := fmt.Sprint(i)
		if set.Labels != nil && int(set.Labels[i]) < len(set.Classes) {
			name = fmt.Sprintf("%d: %s", i, set.Classes[set.Labels[i]])
		}
		b.Names = append(b.Names, name)
	}
	b.Input, _ = set.Batch(idx)
	return b
}

// Accuracy is the share of a labelled set's examples whose top output is their label, for any
// model the explainer takes (a GoMLX function through gradcam.FromFunc too). On failure it shows
// the error and returns NaN.
func Accuracy(m gradcam.Model, set *data.Set) float64 {
	if missing(m) || set == nil {
		return math.NaN()
	}
	e := ExplainerOf(m)
	right := 0
	err := set.ForEachBatch(250, func(idx []int, inputs *tensors.Tensor) error {
		logits, err := e.Logits(inputs)
		if err != nil {
			return err
		}
		for j, row := range logits {
			if models.TopK(row, nil, 1)[0].Class == int(set.Labels[idx[j]]) {
				right++
			}
		}
		return nil
	})
	if Error(err) || set.Len() == 0 {
		return math.NaN()
	}
	return float64(right) / float64(set.Len())
}
