package notebook

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/paper"
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
	t, err := m.Transform(models.Stretch)
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
