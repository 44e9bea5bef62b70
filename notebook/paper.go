package notebook

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/environ"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/store"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/paper"
	"github.com/gradcam-go/gradcam/preprocess"
)

// DebianPhotos is where Debian installs the photos of python3-skimage (skimage/data/chelsea.png,
// coffee.png, astronaut.png, rocket.jpg, motorcycle_left.png) and python3-sklearn
// (sklearn/datasets/images/china.jpg, flower.jpg): Images(m, filepath.Join(DebianPhotos,
// "skimage/data/rocket.jpg")).
const DebianPhotos = "/usr/lib/python3/dist-packages"

// Repo is a path in the toolkit's repository (the notebooks' parent folder).
func Repo(parts ...string) string {
	dir := filepath.Join(os.Getenv("GONB_DIR"), "..")
	if os.Getenv("GONB_DIR") == "" {
		dir = "."
	}
	return filepath.Join(append([]string{dir}, parts...)...)
}

// Objects returns the annotated objects of an image (docs/boxes): a file of ../shared/images by
// name, or a photo under DebianPhotos by path, their boxes at the model's input size. On failure
// it shows the error and returns nil.
func Objects(m *models.Model, file string) []paper.Object {
	if m == nil {
		return nil
	}
	t, err := m.Transform(preprocess.Stretch)
	if Error(err) {
		return nil
	}
	boxes, dir, name := Repo("docs", "boxes", "shared-images.csv"), ImagesDir(), file
	if rel, err := filepath.Rel(DebianPhotos, file); err == nil && !strings.HasPrefix(rel, "..") {
		boxes, dir, name = Repo("docs", "boxes", "debian-photos.csv"), DebianPhotos, rel
	}
	objs, err := paper.ObjectsIn(boxes, dir, name, m, t)
	if Error(err) {
		return nil
	}
	return objs
}

// BoxMass shows, for each explanation of res, the share of the method's map inside each
// object's box (paper.Mass), one table row per explained class; each box once (Distinct).
func BoxMass(res gradcam.Results, method gradcam.Method, objs []paper.Object) {
	if res == nil || objs == nil {
		return
	}
	md, err := paper.MassMarkdown(res, method, paper.Distinct(objs))
	if Error(err) {
		return
	}
	Markdown(md)
}

// Available reports whether an architecture's ImageNet weights are on this machine (in
// $GRADCAM_WEIGHTS, the cache, or ../shared/weights), so that a cell can add a network's column
// where it can and say so where it cannot, without a download.
func Available(name string) bool {
	a, err := zoo.Lookup(name)
	if err != nil {
		return false
	}
	return environ.Store(nil).Local(a) != "" || store.FindWeights(Shared("weights"), name) != ""
}

// Top shows each image's k most probable classes.
func Top(m *models.Model, b *Batch, k int) {
	if m == nil || b == nil {
		return
	}
	preds, err := m.Predict(b.Input, k)
	if Error(err) {
		return
	}
	for i, p := range preds {
		Markdown("**" + b.Names[i] + "**")
		TopK(p)
	}
}

// Pictures makes a batch of pictures (an adversarial image, pictures drawn in the notebook),
// named for the captions, normalized as the model's transform does at the pictures' own size,
// which must be one for all (a network that ends in global pooling takes any size). On failure it
// shows the error and returns nil.
func Pictures(m *models.Model, names []string, pics ...*image.RGBA) *Batch {
	if m == nil {
		return nil
	}
	if len(names) != len(pics) {
		Error(fmt.Errorf("%d names for %d pictures", len(names), len(pics)))
		return nil
	}
	t, err := m.Transform(preprocess.Stretch)
	if Error(err) {
		return nil
	}
	if len(pics) > 0 {
		t.Height, t.Width = pics[0].Bounds().Dy(), pics[0].Bounds().Dx()
	}
	x, err := t.Normalize(pics...)
	if Error(err) {
		return nil
	}
	return &Batch{Input: x, Pictures: pics, Names: names}
}

// Difference draws how b differs from a, pixel by pixel, amplified k times around grey: an
// adversarial perturbation made visible.
func Difference(a, b *image.RGBA, k int) *image.RGBA {
	out := image.NewRGBA(a.Bounds())
	for i := range a.Pix {
		if i%4 == 3 {
			out.Pix[i] = 255
			continue
		}
		d := 128 + k*(int(b.Pix[i])-int(a.Pix[i]))
		out.Pix[i] = uint8(min(max(d, 0), 255))
	}
	return out
}

// BoxedImages is the localization set of a folder with a boxes file (data.BoxedImages): one
// example per (image, class), for Evaluate. On failure it shows the error and returns nil.
func BoxedImages(m *models.Model, dir, boxesFile string) *data.Set {
	if m == nil {
		return nil
	}
	t, err := m.Transform(preprocess.Stretch)
	if Error(err) {
		return nil
	}
	f, err := os.Open(boxesFile)
	if Error(err) {
		return nil
	}
	defer f.Close()
	rows, err := data.ReadBoxes(f)
	if Error(err) {
		return nil
	}
	set, err := data.BoxedImages(dir, rows, t, m.ClassIndex)
	if Error(err) {
		return nil
	}
	return set
}

// Evaluate measures the methods over the set (metrics.Evaluate, the model's explainer shared)
// and shows the table; it returns the report, or nil after showing the error.
func Evaluate(m *models.Model, set *data.Set, o metrics.Options) *metrics.Report {
	if m == nil || set == nil {
		return nil
	}
	rep, err := metrics.Evaluate(metrics.NewEvaluator(ExplainerOf(m)), set, o)
	if Error(err) {
		return nil
	}
	var b strings.Builder
	if Error(metrics.Markdown(&b, rep.Rows)) {
		return nil
	}
	Markdown(b.String())
	return rep
}

// NewHead returns an ImageNet network with a new head of one output per class (initialized from
// seed 1), the rest from its real ImageNet weights in ../shared/weights (or the weights Load
// would find): the start of a fine-tune. On failure it shows the error and returns nil.
func NewHead(name string, classes []string) *models.Model {
	a, err := zoo.Lookup(name)
	if Error(err) {
		return nil
	}
	path := store.FindWeights(Shared("weights"), name)
	if path == "" {
		if path, err = environ.Store(os.Stderr).Weights(context.Background(), a); Error(err) {
			return nil
		}
	}
	pretrained, err := checkpoint.Read(path)
	if Error(err) {
		return nil
	}
	net, err := a.WithOutputs(len(classes), classes)
	if Error(err) {
		return nil
	}
	m, fresh, err := models.Adapt(net, pretrained, 1)
	if Error(err) {
		return nil
	}
	fmt.Printf("%s from %s with a new head (%s) for %d classes\n", name, path, strings.Join(fresh, ", "), len(classes))
	return m
}

// Boxed draws a map over a picture with the true box (green) and the map's box (red: the
// largest segment above 15% of its maximum, the Grad-CAM paper's localization rule,
// metrics.LocalizationBox). On failure it shows the error and returns nil.
func Boxed(pic *image.RGBA, mp *gradcam.Map, truth data.Box) *image.RGBA {
	if pic == nil || mp == nil {
		return nil
	}
	img, err := render.Overlay(pic, mp.Values, render.Jet, 0.5)
	if Error(err) {
		return nil
	}
	h, err := metrics.HeatmapOf(mp)
	if Error(err) {
		return nil
	}
	b, err := metrics.LocalizationBox(h, metrics.DefaultLocalizationThreshold)
	if Error(err) {
		return nil
	}
	render.DrawBox(img, image.Rect(truth.X0, truth.Y0, truth.X1, truth.Y1), color.RGBA{0, 220, 0, 255}, 1)
	render.DrawBox(img, image.Rect(b.X0, b.Y0, b.X1, b.Y1), color.RGBA{255, 0, 0, 255}, 1)
	return img
}

// ShowFile shows a Markdown file of the repository (Repo), such as a measured table.
func ShowFile(parts ...string) {
	b, err := os.ReadFile(Repo(parts...))
	if Error(err) {
		return
	}
	Markdown(string(b))
}
