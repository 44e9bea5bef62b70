package notebook

import (
	"image"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/models"
)

func TestFiguresHTML(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	h, err := FiguresHTML(Figure{Image: img, Caption: "Grad-CAM <dog> & cat"}, Figure{Image: img, Caption: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h, `<img src="data:image/png;base64,`); n != 2 {
		t.Errorf("%d inline images, want 2", n)
	}
	if !strings.Contains(h, "Grad-CAM &lt;dog&gt; &amp; cat") || strings.Count(h, "<figcaption") != 2 {
		t.Errorf("captions not escaped or missing: %s", h)
	}
}

func TestTopKHTML(t *testing.T) {
	h := TopKHTML([]models.Prediction{{Class: 242, Label: "boxer", Probability: 0.4665}, {Class: 1, Label: "a<b", Probability: 0.1}})
	for _, want := range []string{"<td>242</td><td>boxer</td><td>0.4665</td>", "a&lt;b"} {
		if !strings.Contains(h, want) {
			t.Errorf("table lacks %q: %s", want, h)
		}
	}
}
