// Package notebook shows explanations inline in GoNB (Jupyter) notebooks: single pictures,
// captioned rows of figures, grids and top-k tables. It is the only package of the toolkit that
// imports gonbui; outside a notebook its functions do nothing.
package notebook

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	"image/png"
	"strings"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/models"
)

// Figure is a picture with a caption.
type Figure struct {
	Image   image.Image
	Caption string
}

// dataURL encodes an image as an inline PNG.
func dataURL(img image.Image) (string, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// FiguresHTML is the HTML of a row of captioned figures.
func FiguresHTML(figs ...Figure) (string, error) {
	var b strings.Builder
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:8px">`)
	for _, f := range figs {
		src, err := dataURL(f.Image)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, `<figure style="margin:0;text-align:center"><img src="%s" width="%d"/>`+
			`<figcaption style="font-size:small;max-width:%dpx">%s</figcaption></figure>`,
			src, f.Image.Bounds().Dx(), f.Image.Bounds().Dx(), html.EscapeString(f.Caption))
	}
	b.WriteString(`</div>`)
	return b.String(), nil
}

// Show displays images inline as PNG.
func Show(imgs ...image.Image) error {
	for _, img := range imgs {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		displayPNG(buf.Bytes())
	}
	return nil
}

// Markdown displays Markdown text (a table of metrics, say) rendered.
func Markdown(text string) {
	displayMarkdown(text)
}

// Figures displays a row of captioned figures.
func Figures(figs ...Figure) error {
	h, err := FiguresHTML(figs...)
	if err != nil {
		return err
	}
	displayHTML(h)
	return nil
}

// Grid displays a figure grid as one PNG (what the command line writes).
func Grid(g *render.Grid) error {
	img, err := g.Render()
	if err != nil {
		return err
	}
	return Show(img)
}

// Caption is the usual caption of a map: method, class label and probability (a single-output
// model's value).
func Caption(ex *gradcam.Explanation, m gradcam.Method) string {
	if ex.SingleOutput {
		return fmt.Sprintf("%s: %s = %.3f", m.Title(), cmp.Or(ex.Label, "output"), ex.Logit)
	}
	if ex.Label == "" {
		return fmt.Sprintf("%s: output %d = %.3f", m.Title(), ex.Class, ex.Logit)
	}
	return fmt.Sprintf("%s: %s (%d) p=%.3f", m.Title(), ex.Label, ex.Class, ex.Probability)
}

// ExplanationFigures renders an explanation's maps, in the order given, after the original image
// (occlusion and the other methods of the request that the explanation holds). Signed
// attributions (LRP, DeepLift) are drawn with render.Relevance: red for the class, blue against.
func ExplanationFigures(img *image.RGBA, ex *gradcam.Explanation, s Style, methods ...gradcam.Method) ([]Figure, error) {
	figs := []Figure{{Image: img, Caption: "input"}}
	cm := s.Colormap
	if cm == "" {
		cm = render.Jet
	}
	for _, m := range methods {
		mp := ex.Maps[m]
		if mp == nil {
			return nil, fmt.Errorf("the explanation has no %s map", m)
		}
		pic, err := mp.Picture(img, cm, s.ImageWeight)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		caption := Caption(ex, m)
		if ex.Maps[m].AllZero {
			caption += " (all zero)"
		}
		figs = append(figs, Figure{Image: pic, Caption: caption})
	}
	if s.Zoom > 1 {
		for i := range figs {
			figs[i].Image = render.Zoom(figs[i].Image, s.Zoom)
		}
	}
	return figs, nil
}

// Explanation displays the image and an explanation's maps side by side, with captions.
func Explanation(img *image.RGBA, ex *gradcam.Explanation, methods ...gradcam.Method) error {
	figs, err := ExplanationFigures(img, ex, Style{}, methods...)
	if err != nil {
		return err
	}
	return Figures(figs...)
}

// TopKHTML is a small HTML table of predictions.
func TopKHTML(preds []models.Prediction) string {
	var b strings.Builder
	b.WriteString(`<table><tr><th>class</th><th>label</th><th>probability</th></tr>`)
	for _, p := range preds {
		fmt.Fprintf(&b, `<tr><td>%d</td><td>%s</td><td>%.4f</td></tr>`, p.Class, html.EscapeString(p.Label), p.Probability)
	}
	b.WriteString(`</table>`)
	return b.String()
}

// TopK displays the predictions as a table.
func TopK(preds []models.Prediction) {
	displayHTML(TopKHTML(preds))
}
