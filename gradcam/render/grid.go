package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Cell is one picture of a Grid with its caption.
type Cell struct {
	Image   image.Image
	Caption string
}

// Grid is a figure: rows of captioned pictures under an optional title, as the command line
// and the notebooks show them.
type Grid struct {
	Title string
	Rows  [][]Cell
	// CellSize is the side of each picture's square (pictures are scaled to fit); 0 means 224.
	CellSize int
}

const (
	gridPad      = 8
	captionSize  = 13.0
	titleSize    = 16.0
	captionLines = 2
)

var (
	fontsOnce             sync.Once
	regularFont, boldFont *opentype.Font
	fontsErr              error
)

// faces returns new caption and title faces. The parsed fonts are shared (safe for concurrent
// use); a font.Face is not, so every Render makes its own.
func faces() (caption, title font.Face, err error) {
	fontsOnce.Do(func() {
		if regularFont, fontsErr = opentype.Parse(goregular.TTF); fontsErr == nil {
			boldFont, fontsErr = opentype.Parse(gobold.TTF)
		}
	})
	if fontsErr != nil {
		return nil, nil, fontsErr
	}
	if caption, err = opentype.NewFace(regularFont, &opentype.FaceOptions{Size: captionSize, DPI: 72, Hinting: font.HintingFull}); err != nil {
		return nil, nil, err
	}
	title, err = opentype.NewFace(boldFont, &opentype.FaceOptions{Size: titleSize, DPI: 72, Hinting: font.HintingFull})
	return caption, title, err
}

// Render draws the grid on a white background.
func (g *Grid) Render() (*image.RGBA, error) {
	capFace, titFace, err := faces()
	if err != nil {
		return nil, fmt.Errorf("loading fonts: %w", err)
	}
	size := g.CellSize
	if size <= 0 {
		size = 224
	}
	cols := 0
	for _, r := range g.Rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return nil, fmt.Errorf("empty grid")
	}
	lineH := capFace.Metrics().Height.Ceil()
	titleH := 0
	if g.Title != "" {
		titleH = titFace.Metrics().Height.Ceil() + gridPad
	}
	cellH := size + captionLines*lineH + gridPad
	w := gridPad + cols*(size+gridPad)
	h := gridPad + titleH + len(g.Rows)*cellH
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	if g.Title != "" {
		drawText(out, titFace, fitText(titFace, g.Title, w-2*gridPad), gridPad, gridPad+titFace.Metrics().Ascent.Ceil())
	}
	for ri, row := range g.Rows {
		for ci, cell := range row {
			x0 := gridPad + ci*(size+gridPad)
			y0 := gridPad + titleH + ri*cellH
			if cell.Image != nil {
				draw.Draw(out, image.Rect(x0, y0, x0+size, y0+size), fitImage(cell.Image, size), image.Point{}, draw.Src)
			}
			for li, line := range wrapText(capFace, cell.Caption, size, captionLines) {
				drawText(out, capFace, line, x0, y0+size+(li+1)*lineH)
			}
		}
	}
	return out, nil
}

// WritePNG renders the grid as PNG.
func (g *Grid) WritePNG(w io.Writer) error {
	img, err := g.Render()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// fitImage scales img to a size x size square (nearest neighbour: maps stay crisp).
func fitImage(img image.Image, size int) image.Image {
	b := img.Bounds()
	if b.Dx() == size && b.Dy() == size {
		return img
	}
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			out.Set(x, y, img.At(b.Min.X+x*b.Dx()/size, b.Min.Y+y*b.Dy()/size))
		}
	}
	return out
}

func drawText(dst *image.RGBA, face font.Face, s string, x, y int) {
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(color.Black), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// fitText shortens s with an ellipsis to fit width pixels.
func fitText(face font.Face, s string, width int) string {
	if font.MeasureString(face, s).Ceil() <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && font.MeasureString(face, string(r)+"…").Ceil() > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// wrapText splits s into at most maxLines lines of width pixels, at spaces where possible.
func wrapText(face font.Face, s string, width, maxLines int) []string {
	var lines []string
	words := splitWords(s)
	line := ""
	for i, word := range words {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if font.MeasureString(face, try).Ceil() <= width || line == "" {
			line = try
			continue
		}
		lines = append(lines, line)
		if len(lines) == maxLines-1 {
			rest := word
			for _, w := range words[i+1:] {
				rest += " " + w
			}
			return append(lines, fitText(face, rest, width))
		}
		line = word
	}
	if line != "" {
		lines = append(lines, fitText(face, line, width))
	}
	return lines
}

func splitWords(s string) []string {
	var out []string
	word := ""
	for _, r := range s {
		if r == ' ' || r == '\n' {
			if word != "" {
				out = append(out, word)
			}
			word = ""
			continue
		}
		word += string(r)
	}
	if word != "" {
		out = append(out, word)
	}
	return out
}

// Colorbar draws a vertical colour scale of the colormap, 1 at the top, 0 at the bottom.
func Colorbar(cm Colormap, width, height int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		v := 1 - float32(y)/float32(max(height-1, 1))
		c := cm.At(v)
		for x := range width {
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

// WithColorbar returns img with a labelled colour scale beside it: the colormap's bar, hi at its
// top and lo at its bottom (the values the map's 1 and 0 stand for: "max", "0", or numbers).
func WithColorbar(img image.Image, cm Colormap, lo, hi string) (*image.RGBA, error) {
	capFace, _, err := faces()
	if err != nil {
		return nil, fmt.Errorf("loading fonts: %w", err)
	}
	b := img.Bounds()
	const gap, bar = 6, 14
	label := max(fontWidth(capFace, lo), fontWidth(capFace, hi)) + 4
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()+gap+bar+label, b.Dy()))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(0, 0, b.Dx(), b.Dy()), img, b.Min, draw.Src)
	scale := Colorbar(cm, bar, b.Dy()-16)
	draw.Draw(out, image.Rect(b.Dx()+gap, 8, b.Dx()+gap+bar, b.Dy()-8), scale, image.Point{}, draw.Src)
	drawText(out, capFace, hi, b.Dx()+gap+bar+3, 16)
	drawText(out, capFace, lo, b.Dx()+gap+bar+3, b.Dy()-8)
	return out, nil
}

func fontWidth(face font.Face, s string) int { return font.MeasureString(face, s).Ceil() }
