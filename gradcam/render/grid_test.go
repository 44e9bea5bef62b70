package render

import (
	"image"
	"image/color"
	"strings"
	"sync"
	"testing"
)

func solid(c color.RGBA, size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return img
}

// inkIn counts non-white pixels in r.
func inkIn(img *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c := img.RGBAAt(x, y); c.R < 200 || c.G < 200 || c.B < 200 {
				n++
			}
		}
	}
	return n
}

func TestGridLayout(t *testing.T) {
	red := solid(color.RGBA{255, 0, 0, 255}, 50)
	g := &Grid{Title: "A title", CellSize: 100, Rows: [][]Cell{
		{{Image: red, Caption: "short"}, {Image: red, Caption: "a caption long enough that it has to wrap onto a second line and then be cut"}},
		{{Image: red, Caption: ""}},
	}}
	img, err := g.Render()
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != gridPad+2*(100+gridPad) {
		t.Errorf("width %d", b.Dx())
	}
	// Pictures are scaled into their 100x100 cells below the title; the second row has one cell.
	_, title, _ := faces()
	top := gridPad + title.Metrics().Height.Ceil() + gridPad
	for _, p := range []image.Point{{gridPad, top}, {gridPad + 99, top + 99}, {2*gridPad + 100, top}} {
		if c := img.RGBAAt(p.X, p.Y); c != (color.RGBA{255, 0, 0, 255}) {
			t.Errorf("pixel %v is %v, want the red picture", p, c)
		}
	}
	if inkIn(img, image.Rect(gridPad+100+gridPad, b.Dy()/2+20, b.Dx(), b.Dy())) != 0 {
		t.Error("ink in the missing cell")
	}
	if inkIn(img, image.Rect(0, 0, b.Dx(), gridPad+16)) == 0 {
		t.Error("no title")
	}
	if _, err := (&Grid{}).Render(); err == nil {
		t.Error("no error for an empty grid")
	}
}

func TestWrapText(t *testing.T) {
	face, _, err := faces()
	if err != nil {
		t.Fatal(err)
	}
	lines := wrapText(face, "Guided Grad-CAM: black and gold garden spider (72) p=0.123", 150, 2)
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		if w := fontWidth(face, l); w > 150 {
			t.Errorf("line %q is %d pixels wide", l, w)
		}
	}
	if one := wrapText(face, "input", 150, 2); len(one) != 1 || one[0] != "input" {
		t.Errorf("short caption: %q", one)
	}
}

// TestGridConcurrentRender: grids render from several goroutines at once (run with -race).
func TestGridConcurrentRender(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := &Grid{Title: "concurrent", Rows: [][]Cell{{{Image: img, Caption: strings.Repeat("caption ", i+1)}}}}
			if _, err := g.Render(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
