// Package preprocess turns image files into a network's input: decoding, resizing as torchvision
// does (PIL's antialiased bilinear filter; Resize(256) + CenterCrop(224)), and normalizing. Both
// the datasets (package data) and the models use it; it imports neither.
package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // decoders registered for image.Decode
	_ "image/png"
	"math"
	"os"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"golang.org/x/image/draw"
)

// ImageNetMean and ImageNetStd are ImageNet's normalization (torchvision.transforms.Normalize).
func ImageNetMean() []float32 { return []float32{0.485, 0.456, 0.406} }

// ImageNetStd: see ImageNetMean.
func ImageNetStd() []float32 { return []float32{0.229, 0.224, 0.225} }

// Resize says how an image becomes the network's input size.
type Resize int

const (
	// Stretch resizes the whole image to the input size (bilinear, antialiased when shrinking), as
	// the Grad-CAM seeds and pytorch-grad-cam's examples do; images of that size are left as they are.
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
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not a PNG or JPEG image: %v", path, err)
	}
	// A header may declare any size; decoding allocates it. Real images compress by far less
	// than 1000:1 (deflate's limit is about 1032:1), and nothing here needs 64 megapixels.
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels || px > 1000*int64(len(data))+1<<20 {
		return nil, fmt.Errorf("%s declares a %dx%d image, too large for its %d bytes or for this toolkit (at most %d pixels)",
			path, cfg.Width, cfg.Height, len(data), maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not a PNG or JPEG image: %v", path, err)
	}
	return toRGB(img), nil
}

// maxPixels bounds the images LoadImage decodes.
const maxPixels = 64 << 20

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

// InputSize is the side of the square images the torchvision ImageNet models take.
const InputSize = 224

// NumClasses is the number of ImageNet classes the torchvision models predict.
const NumClasses = 1000

// Transform turns image files into a network's input, with torchvision's rules (PIL's
// antialiased bilinear resize, byte for byte; ToTensor; Normalize) at the network's size.
type Transform struct {
	Height, Width int
	Resize        Resize
	// Channels is 3 (RGB) or 1 (gray, PIL's convert("L")).
	Channels int
	// Mean and Std normalize each channel of pixel/255; nil: no normalization.
	Mean, Std []float32
}

// Bounds are the lowest and highest values the transform gives each channel: pixels 0 and 1
// normalized by Mean and Std, or 0 and 1 without normalization (LRP's ZBox rule bounds the
// first layer's input by them).
func (t Transform) Bounds() (low, high []float64) {
	if t.Mean == nil {
		return []float64{0}, []float64{1}
	}
	for c := range t.Mean {
		low = append(low, (0-float64(t.Mean[c]))/float64(t.Std[c]))
		high = append(high, (1-float64(t.Mean[c]))/float64(t.Std[c]))
	}
	return low, high
}

// ImageNet is torchvision's ImageNet transform: 224x224 RGB, ImageNet's mean and std.
func ImageNet(mode Resize) Transform {
	return Transform{Height: InputSize, Width: InputSize, Resize: mode, Channels: 3, Mean: ImageNetMean(), Std: ImageNetStd()}
}

// Fit returns the Height x Width RGB image the network sees, resized by the transform's mode.
func (t Transform) Fit(img *image.RGBA) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if t.Resize == CenterCrop {
		// torchvision's Resize(256) + CenterCrop(224), scaled to the transform's size: the
		// shorter side becomes 256/224 of the crop's side (int(size * long / short) for the other).
		var nw, nh int
		if w*t.Height < h*t.Width { // width is the binding side
			nw = t.Width * 256 / 224
			nh = h * nw / w
		} else {
			nh = t.Height * 256 / 224
			nw = w * nh / h
		}
		img = scale(img, nw, nh)
		// torchvision's center crop rounds the offset: int(round((n - size) / 2.0)).
		x0, y0 := roundHalfEven(nw-t.Width), roundHalfEven(nh-t.Height)
		out := image.NewRGBA(image.Rect(0, 0, t.Width, t.Height))
		draw.Draw(out, out.Bounds(), img, image.Pt(x0, y0), draw.Src)
		return out
	}
	if w == t.Width && h == t.Height {
		return img
	}
	return scale(img, t.Width, t.Height)
}

// FitBox maps a box of a w x h image (x1, y1 exclusive) to the image Fit makes of it: scaled as
// the image is, shifted by the center crop, rounded to whole pixels and clipped to the fitted
// image (empty when the crop cuts it off).
func (t Transform) FitBox(box image.Rectangle, w, h int) image.Rectangle {
	nw, nh, x0, y0 := t.Width, t.Height, 0, 0
	if t.Resize == CenterCrop {
		if w*t.Height < h*t.Width {
			nw = t.Width * 256 / 224
			nh = h * nw / w
		} else {
			nh = t.Height * 256 / 224
			nw = w * nh / h
		}
		x0, y0 = roundHalfEven(nw-t.Width), roundHalfEven(nh-t.Height)
	}
	at := func(v, from, to, shift int) int { return int(math.Round(float64(v)*float64(to)/float64(from))) - shift }
	r := image.Rect(at(box.Min.X, w, nw, x0), at(box.Min.Y, h, nh, y0), at(box.Max.X, w, nw, x0), at(box.Max.Y, h, nh, y0))
	return r.Intersect(image.Rect(0, 0, t.Width, t.Height))
}

// roundHalfEven is Python's round(n / 2) for the crop offset.
func roundHalfEven(n int) int {
	if n%2 == 0 || (n/2)%2 == 0 {
		return n / 2
	}
	return n/2 + 1
}

func scale(img *image.RGBA, w, h int) *image.RGBA { return resizeBilinear(img, w, h) }

// Normalize turns Height x Width images into the network's input: a float32 [B, Channels, H, W]
// tensor of (pixel/255 - mean) / std.
func (t Transform) Normalize(imgs ...*image.RGBA) (*tensors.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("no images to normalize")
	}
	if t.Channels != 1 && t.Channels != 3 {
		return nil, fmt.Errorf("a transform makes 1- or 3-channel inputs, not %d", t.Channels)
	}
	hw := t.Height * t.Width
	c := t.Channels
	data := make([]float32, len(imgs)*c*hw)
	for i, img := range imgs {
		if img.Bounds().Dx() != t.Width || img.Bounds().Dy() != t.Height {
			return nil, fmt.Errorf("image %d is %dx%d; resize it to %dx%d first (Transform.Fit)", i,
				img.Bounds().Dx(), img.Bounds().Dy(), t.Width, t.Height)
		}
		for y := range t.Height {
			for x := range t.Width {
				o := img.PixOffset(x+img.Bounds().Min.X, y+img.Bounds().Min.Y)
				px := img.Pix[o : o+3]
				for ch := range c {
					v := float32(px[ch])
					if c == 1 { // PIL's convert("L"): ITU-R 601-2 luma, fixed point
						v = float32((uint32(px[0])*19595 + uint32(px[1])*38470 + uint32(px[2])*7471 + 0x8000) >> 16)
					}
					v /= 255
					if t.Mean != nil {
						v = (v - t.Mean[ch]) / t.Std[ch]
					}
					data[(i*c+ch)*hw+y*t.Width+x] = v
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(imgs), c, t.Height, t.Width), nil
}

// Preprocess loads image files and returns the input batch and the fitted images (for
// overlays).
func (t Transform) Preprocess(paths ...string) (*tensors.Tensor, []*image.RGBA, error) {
	imgs := make([]*image.RGBA, len(paths))
	for i, p := range paths {
		img, err := LoadImage(p)
		if err != nil {
			return nil, nil, err
		}
		imgs[i] = t.Fit(img)
	}
	x, err := t.Normalize(imgs...)
	return x, imgs, err
}

// Preprocess is ImageNet(mode).Preprocess: the input of the torchvision ImageNet models.
func Preprocess(mode Resize, paths ...string) (*tensors.Tensor, []*image.RGBA, error) {
	return ImageNet(mode).Preprocess(paths...)
}
