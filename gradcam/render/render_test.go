package render

import (
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// golden returns the directory of OpenCV / pytorch-grad-cam golden values.
func golden(t *testing.T) string {
	return testref.Ensure(t, "gradcam/render/testdata/opencv_colormaps.py", "render-golden", "--check")
}

// TestColormapsMatchOpenCV compares every entry of every colormap with cv2.applyColorMap.
func TestColormapsMatchOpenCV(t *testing.T) {
	dir := golden(t)
	for _, cm := range []Colormap{Jet, Turbo, Viridis, Inferno} {
		t.Run(string(cm), func(t *testing.T) {
			want, _ := testref.ReadNPYAs[uint8](t, filepath.Join(dir, string(cm)+".npy"))
			for i := range 256 {
				c := cm.Index(uint8(i))
				if c.R != want[3*i] || c.G != want[3*i+1] || c.B != want[3*i+2] {
					t.Fatalf("entry %d: %v, OpenCV %v", i, c, want[3*i:3*i+3])
				}
			}
		})
	}
	if c := Gray.At(0.5); c != (color.RGBA{127, 127, 127, 255}) {
		t.Errorf("gray(0.5) = %v", c)
	}
}

// fixedImage is the 8-bit image of testdata/opencv_colormaps.py's fixed_inputs.
func fixedImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for y := range 32 {
		for x := range 48 {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 5 % 256), uint8(y * 7 % 256), uint8((x + y) * 3 % 256), 255})
		}
	}
	return img
}

// TestOverlayMatchesPytorchGradCAM compares Overlay with show_cam_on_image pixel by pixel.
func TestOverlayMatchesPytorchGradCAM(t *testing.T) {
	dir := golden(t)
	mask, _ := testref.ReadNPY(t, filepath.Join(dir, "mask.npy"))
	want, _ := testref.ReadNPYAs[uint8](t, filepath.Join(dir, "overlay.npy"))
	got, err := Overlay(fixedImage(), mask, Jet, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	diff := 0
	for i := range 48 * 32 {
		for c := range 3 {
			if got.Pix[4*i+c] != want[3*i+c] {
				diff++
				if diff < 5 {
					t.Errorf("pixel %d channel %d: %d, pytorch-grad-cam %d", i, c, got.Pix[4*i+c], want[3*i+c])
				}
			}
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d values differ", diff, 48*32*3)
	}
}

// TestGradientImageMatchesDeprocess compares GradientImage with deprocess_image. NumPy reduces
// the mean and standard deviation in float32 (pairwise) where Go uses float64, so a value that
// falls on a quantization boundary may differ by one level.
func TestGradientImageMatchesDeprocess(t *testing.T) {
	dir := golden(t)
	grad, _ := testref.ReadNPY(t, filepath.Join(dir, "grad.npy"))
	want, _ := testref.ReadNPYAs[uint8](t, filepath.Join(dir, "deprocess.npy"))
	got, err := GradientImage(grad, 48, 32)
	if err != nil {
		t.Fatal(err)
	}
	offByOne := 0
	for i := range 48 * 32 {
		for c := range 3 {
			d := int(got.Pix[4*i+c]) - int(want[3*i+c])
			switch {
			case d == 0:
			case d == 1 || d == -1:
				offByOne++
			default:
				t.Fatalf("pixel %d channel %d: %d, pytorch-grad-cam %d", i, c, got.Pix[4*i+c], want[3*i+c])
			}
		}
	}
	if offByOne > 48*32*3/500 {
		t.Errorf("%d values off by one level", offByOne)
	}
	t.Logf("%d of %d values off by one level", offByOne, 48*32*3)
}

func TestThresholdBox(t *testing.T) {
	// Two blobs above 15% of the max: the larger one wins, whatever its peak.
	w, h := 10, 8
	m := make([]float32, w*h)
	set := func(x0, y0, x1, y1 int, v float32) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				m[y*w+x] = v
			}
		}
	}
	set(0, 0, 2, 2, 1.0) // small, hottest
	set(4, 3, 9, 7, 0.5) // large
	set(3, 0, 4, 1, 0.1) // below 15%
	got, err := ThresholdBox(m, w, h, 0.15)
	if err != nil {
		t.Fatal(err)
	}
	if want := image.Rect(4, 3, 9, 7); got != want {
		t.Errorf("box %v, want %v", got, want)
	}
	if got, _ := ThresholdBox(make([]float32, w*h), w, h, 0.15); !got.Empty() {
		t.Errorf("all-zero map: box %v, want empty", got)
	}
	if _, err := ThresholdBox(m, 3, 3, 0.15); err == nil {
		t.Error("no error for a map of the wrong size")
	}
}

// TestPictureShapes: Picture draws [H, W] heatmaps over the image, [3, H, W] and (gray inputs)
// [1, H, W] gradient images, and refuses other shapes.
func TestPictureShapes(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	vals := []float32{0, 1, 2, 3, 4, 5, 6, 7}
	for _, tc := range []struct {
		shape []int
		ok    bool
	}{{[]int{2, 4}, true}, {[]int{1, 2, 4}, true}, {[]int{2, 1, 4}, false}, {[]int{8}, false}} {
		pic, err := Picture(vals, tc.shape, img, Jet, 0)
		if (err == nil) != tc.ok || (tc.ok && pic.Bounds() != img.Bounds()) {
			t.Errorf("shape %v: %v, %v", tc.shape, pic, err)
		}
	}
	gray, _ := Picture(vals, []int{1, 2, 4}, img, Jet, 0)
	rgb, _ := GradientImage(append(append(append([]float32{}, vals...), vals...), vals...), 4, 2)
	if !slices.Equal(gray.Pix, rgb.Pix) {
		t.Error("a [1, H, W] gradient image is not drawn as its gray [3, H, W] copy")
	}
}

// TestRelevance: relevance is summed over channels and shown in BWR, red for the largest positive
// sum, blue for the most negative, white for zero (within the 256 entries' quantization); a map
// of zeros is white, not NaN.
func TestRelevance(t *testing.T) {
	// 3 channels of 1x3: sums +2, -1, 0.
	img, err := Relevance([]float32{1, -1, 0, 1, 0, 0, 0, 0, 0}, 3, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []color.RGBA{{255, 0, 0, 255}, {128, 128, 255, 255}, {255, 255, 255, 255}} {
		if got := img.RGBAAt(i, 0); absDiff(got.R, want.R) > 3 || absDiff(got.G, want.G) > 3 || absDiff(got.B, want.B) > 3 {
			t.Errorf("pixel %d: %v, want %v", i, got, want)
		}
	}
	zero, err := Relevance(make([]float32, 6), 2, 3, 1)
	if got := zero.RGBAAt(1, 0); err != nil || got.R < 252 || got.G < 252 || got.B < 252 {
		t.Errorf("zeros: %v, %v", zero.RGBAAt(1, 0), err)
	}
	if _, err := Relevance(make([]float32, 5), 2, 3, 1); err == nil {
		t.Error("5 values taken as 2x1x3")
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
