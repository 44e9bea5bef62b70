package models

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decoders registered for image.Decode
	_ "image/png"
	"os"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"golang.org/x/image/draw"
)

// ImageNet normalization (torchvision.transforms.Normalize).
var (
	Mean = [3]float32{0.485, 0.456, 0.406}
	Std  = [3]float32{0.229, 0.224, 0.225}
)

// Resize says how an image becomes InputSize x InputSize.
type Resize int

const (
	// Stretch resizes the whole image to 224x224 (bilinear, antialiased when shrinking), as the
	// Grad-CAM seeds and pytorch-grad-cam's examples do; 224x224 images are left as they are.
	Stretch Resize = iota
	// CenterCrop is torchvision's Resize(256) + CenterCrop(224): the shorter side becomes 256,
	// then the central 224x224 square is kept.
	CenterCrop
)

// LoadImage reads a PNG or JPEG file as an RGB image (alpha dropped, grayscale expanded).
func LoadImage(path string) (*image.RGBA, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading image: %w", err)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not a PNG or JPEG image: %v", path, err)
	}
	return toRGB(img), nil
}

// toRGB converts any image to opaque RGBA, dropping alpha (the straight, not premultiplied,
// color values are kept, as PIL's convert("RGB") does).
func toRGB(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out.SetRGBA(x-b.Min.X, y-b.Min.Y, color.RGBA{c.R, c.G, c.B, 255})
		}
	}
	return out
}

// Fit returns the InputSize x InputSize RGB image the model sees, resized by mode with PIL's
// antialiased bilinear filter (what torchvision's Resize does to PIL images), byte for byte.
func Fit(img *image.RGBA, mode Resize) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if mode == CenterCrop {
		short := 256
		nw, nh := short, short
		if w < h {
			nh = h * short / w
		} else {
			nw = w * short / h
		}
		img = scale(img, nw, nh)
		// torchvision's center crop rounds the offset: int(round((n - 224) / 2.0)).
		x0, y0 := roundHalfEven(nw-InputSize), roundHalfEven(nh-InputSize)
		out := image.NewRGBA(image.Rect(0, 0, InputSize, InputSize))
		draw.Draw(out, out.Bounds(), img, image.Pt(x0, y0), draw.Src)
		return out
	}
	if w == InputSize && h == InputSize {
		return img
	}
	return scale(img, InputSize, InputSize)
}

// roundHalfEven is Python's round(n / 2) for the crop offset.
func roundHalfEven(n int) int {
	if n%2 == 0 || (n/2)%2 == 0 {
		return n / 2
	}
	return n/2 + 1
}

func scale(img *image.RGBA, w, h int) *image.RGBA { return resizeBilinear(img, w, h) }

// Normalize turns InputSize x InputSize RGB images into the model's input: a float32
// [B, 3, 224, 224] tensor of (RGB/255 - mean) / std.
func Normalize(imgs ...*image.RGBA) (*tensors.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("no images to normalize")
	}
	hw := InputSize * InputSize
	data := make([]float32, len(imgs)*3*hw)
	for i, img := range imgs {
		if img.Bounds().Dx() != InputSize || img.Bounds().Dy() != InputSize {
			return nil, fmt.Errorf("image %d is %dx%d; resize it to %dx%d first (models.Fit)", i,
				img.Bounds().Dx(), img.Bounds().Dy(), InputSize, InputSize)
		}
		for y := range InputSize {
			for x := range InputSize {
				o := img.PixOffset(x+img.Bounds().Min.X, y+img.Bounds().Min.Y)
				for c := range 3 {
					data[(i*3+c)*hw+y*InputSize+x] = (float32(img.Pix[o+c])/255 - Mean[c]) / Std[c]
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(imgs), 3, InputSize, InputSize), nil
}

// Preprocess loads image files and returns the model input batch and the fitted images (for
// overlays).
func Preprocess(mode Resize, paths ...string) (*tensors.Tensor, []*image.RGBA, error) {
	imgs := make([]*image.RGBA, len(paths))
	for i, p := range paths {
		img, err := LoadImage(p)
		if err != nil {
			return nil, nil, err
		}
		imgs[i] = Fit(img, mode)
	}
	t, err := Normalize(imgs...)
	return t, imgs, err
}
