package notebook

import (
	"strings"

	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/text"
)

// Texts explains each text with ex for its predicted class (or, with class >= 0, that class)
// and shows the text coloured by Grad-CAM (jet: blue is no evidence, red the most), the label
// and probability above; errors are shown in the cell. It returns the explanations.
func Texts(ex *text.Explainer, class int, texts ...string) []*text.Explanation {
	var out []*text.Explanation
	for _, s := range texts {
		e, err := ex.Explain(s, class, false)
		if Error(err) {
			continue
		}
		out = append(out, e)
	}
	ShowTexts(out...)
	return out
}

// ShowTexts shows explanations of texts (text.Explainer.Explain) as coloured text.
func ShowTexts(es ...*text.Explanation) {
	var h strings.Builder
	for _, e := range es {
		h.WriteString(e.HTML(render.Jet))
	}
	if h.Len() > 0 {
		displayHTML(h.String())
	}
}
