package text

import (
	"encoding/json"
	"fmt"
	"html"
	"strings"

	"github.com/gradcam-go/gradcam/gradcam/render"
)

// ANSI renders the explanation for a terminal: each character on a background of the colormap's
// colour for its weight (24-bit colour escapes), black or white text for contrast.
func (e *Explanation) ANSI(cm render.Colormap) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, probability %.3f):\n", e.title(), e.Label, e.Probability)
	for _, c := range e.Chars {
		col := cm.At(float32(c.Weight))
		fg := 30 // black
		if 0.299*float64(col.R)+0.587*float64(col.G)+0.114*float64(col.B) < 128 {
			fg = 97 // white
		}
		fmt.Fprintf(&b, "\x1b[48;2;%d;%d;%dm\x1b[%dm%s", col.R, col.G, col.B, fg, c.Char)
	}
	b.WriteString("\x1b[0m\n")
	return b.String()
}

// HTML renders the explanation as an HTML fragment: the text with a background colour per
// character, the label and probability above it.
func (e *Explanation) HTML(cm render.Colormap) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<div style="font-family:monospace;line-height:1.8"><div><b>%s</b>: %s, probability %.3f</div><div>`,
		html.EscapeString(e.title()), html.EscapeString(e.Label), e.Probability)
	for _, c := range e.Chars {
		col := cm.At(float32(c.Weight))
		fg := "#000"
		if 0.299*float64(col.R)+0.587*float64(col.G)+0.114*float64(col.B) < 128 {
			fg = "#fff"
		}
		fmt.Fprintf(&b, `<span style="background:rgb(%d,%d,%d);color:%s" title="%.2f">%s</span>`,
			col.R, col.G, col.B, fg, c.Weight, strings.ReplaceAll(html.EscapeString(c.Char), " ", "&nbsp;"))
	}
	b.WriteString("</div></div>")
	return b.String()
}

// JSON renders the explanation as JSON: {"label", "probability", "chars": [{"char", "weight"}],
// "words": [{"word", "weight"}], ...}.
func (e *Explanation) JSON() ([]byte, error) { return json.Marshal(e) }

func (e *Explanation) title() string {
	if e.Counterfactual {
		return "counterfactual Grad-CAM"
	}
	return "Grad-CAM"
}
