package data

import (
	"image"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/preprocess"
)

// TestReadBoxesErrors: a malformed row is one line naming the row's line and what is wrong.
func TestReadBoxesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"too few fields", BoxesHeader + "\na.png,1,0,0,5\n", "line 2: 5 fields, want 6"},
		{"not a number", "a.png,1,0,0,5,5\nb.png,2,0,x,5,5\n", `line 2: y0 "x" is not a whole number`},
		{"empty box", "a.png,1,5,0,5,5\n", "line 1: box 5,0,5,5 is empty or negative"},
		{"negative", "# comment\na.png,1,-1,0,5,5\n", "line 2: box -1,0,5,5 is empty or negative"},
		{"no class", "a.png,,0,0,5,5\n", "line 1: the image and the class are required"},
		{"no rows", BoxesHeader + "\n", "no rows"},
	} {
		_, err := ReadBoxes(strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line containing %q", tc.name, err, tc.want)
		}
	}
	rows, err := ReadBoxes(strings.NewReader(BoxesHeader + "\na.png, 7, 1,2,3,4\n"))
	if err != nil || len(rows) != 1 || rows[0] != (BoxRow{Line: 2, Image: "a.png", Class: "7", Box: Box{1, 2, 3, 4}}) {
		t.Errorf("rows %+v, %v", rows, err)
	}
}

// TestBoxedImages: one example per (image, class), several boxes of a class kept together and
// mapped to the fitted image; an image missing from the folder, a box leaving its image and an
// unknown class are errors naming the row.
func TestBoxedImages(t *testing.T) {
	dir := filepath.Join(testref.Shared(), "images")
	tr := preprocess.ImageNet(preprocess.Stretch)
	classOf := func(s string) (int, error) { return strconv.Atoi(s) }
	rows, err := ReadBoxes(strings.NewReader(`horses.jpg,339,160,121,198,160
horses.jpg,339,262,130,337,186
cat_dog.png,243,78,13,165,150
horses.jpg,340,0,0,425,280
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := BoxedImages(dir, rows, tr, classOf)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 3 || len(set.AllBoxes[0]) != 2 || set.Labels[2] != 340 || set.Images[1] != "cat_dog.png" {
		t.Fatalf("%d examples, boxes %v, labels %v, images %v", set.Len(), set.AllBoxes, set.Labels, set.Images)
	}
	// horses.jpg is 425x280, stretched to 224x224: x * 224/425, y * 224/280.
	if got, want := set.AllBoxes[0][1], (Box{138, 104, 178, 149}); got != want {
		t.Errorf("second horse at %v in the fitted image, want %v", got, want)
	}
	if set.Boxes[2] != (Box{0, 0, 224, 224}) {
		t.Errorf("whole-image box %v", set.Boxes[2])
	}
	size := 3 * 224 * 224
	if a, b := set.Inputs[:size], set.Inputs[2*size:3*size]; a[1000] != b[1000] || a[size-1] != b[size-1] {
		t.Error("the two classes of horses.jpg have different inputs")
	}

	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "x.png"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, row, want string
	}{
		{"missing image", dir, "nothing.png,1,0,0,5,5", "line 1: image nothing.png is not in " + dir},
		{"box outside", dir, "horses.jpg,1,0,0,426,100", "line 1: box 0,0,426,100 leaves the 425x280 image horses.jpg"},
		{"unknown class", dir, "horses.jpg,sorrel,0,0,5,5", `line 1: strconv.Atoi: parsing "sorrel"`},
		{"unreadable image", empty, "x.png,1,0,0,5,5", "line 1:"},
	} {
		rows, err := ReadBoxes(strings.NewReader(tc.row))
		if err != nil {
			t.Fatal(err)
		}
		_, err = BoxedImages(tc.dir, rows, tr, classOf)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line containing %q", tc.name, err, tc.want)
		}
	}
}

// TestFitBox: boxes follow the image through the stretch and through torchvision's
// Resize(256) + CenterCrop(224), clipped to the crop.
func TestFitBox(t *testing.T) {
	stretch, crop := preprocess.ImageNet(preprocess.Stretch), preprocess.ImageNet(preprocess.CenterCrop)
	for _, tc := range []struct {
		tr   preprocess.Transform
		box  image.Rectangle
		w, h int
		want image.Rectangle
	}{
		{stretch, image.Rect(0, 0, 448, 224), 448, 224, image.Rect(0, 0, 224, 224)},
		{stretch, image.Rect(100, 50, 200, 150), 448, 224, image.Rect(50, 50, 100, 150)},
		// 512x256 -> 512x256 (shorter side 256), crop 224 at (144, 16).
		{crop, image.Rect(0, 0, 512, 256), 512, 256, image.Rect(0, 0, 224, 224)},
		{crop, image.Rect(200, 100, 300, 200), 512, 256, image.Rect(56, 84, 156, 184)},
		{crop, image.Rect(0, 0, 100, 100), 512, 256, image.Rectangle{}},
	} {
		if got := tc.tr.FitBox(tc.box, tc.w, tc.h); got != tc.want && !(got.Empty() && tc.want.Empty()) {
			t.Errorf("%v of %dx%d (%v): %v, want %v", tc.box, tc.w, tc.h, tc.tr.Resize, got, tc.want)
		}
	}
}

// TestTransformed: Fashion-MNIST's gray 28x28 items become a 3-channel model's 64x64 inputs, the
// gray value in every channel, normalized by the transform, labels kept.
func TestTransformed(t *testing.T) {
	s, err := FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	s = s.Head(3)
	tr := preprocess.Transform{Height: 64, Width: 64, Channels: 3, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}}
	out, err := s.Transformed(tr)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 3 || out.Shape[0] != 3 || out.Shape[1] != 64 || out.Labels[2] != s.Labels[2] {
		t.Fatalf("%d examples of %v, labels %v", out.Len(), out.Shape, out.Labels)
	}
	hw := 64 * 64
	for p := range hw {
		if r, g, b := out.Inputs[p], out.Inputs[hw+p], out.Inputs[2*hw+p]; r != g || g != b || r < -1 || r > 1 {
			t.Fatalf("pixel %d: %g %g %g, want one gray value in [-1, 1]", p, r, g, b)
		}
	}
	if _, err := (&Set{Name: "seq", Shape: []int{16, 40}, Inputs: make([]float32, 640)}).Transformed(tr); err == nil {
		t.Error("sequences turned into pictures")
	}
}
