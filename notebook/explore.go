package notebook

import (
	"fmt"
	"html"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/widgets"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
)

// BrowserWait is how long the interactive cells wait for a browser to show their widgets before
// they take the notebook for one executed without a front end (nbconvert, as in CI) and leave
// the widgets in their initial state.
const BrowserWait = 8 * time.Second

// explorers numbers the interactive cells of a program, for their HTML ids.
var explorers atomic.Int64

// interactive builds widgets (whose Done waits for the browser's first answer) and reports
// whether a browser answered within BrowserWait. Without one, the goroutine stays blocked until
// the cell's program ends.
func interactive(build func()) bool {
	if !gonbui.IsNotebook {
		return false
	}
	done := make(chan struct{})
	go func() {
		build()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(BrowserWait):
		return false
	}
}

// Explore shows an explorer of a model's explanations of a batch of images (Images): select the
// image, the class (among the image's top 5) and the method, move a slider over the explainable
// layers, and the overlay is redrawn in place, the model staying loaded between changes. The
// cell keeps running until Stop is clicked or for the given duration (0: 10 minutes). Without a
// browser (see BrowserWait) it shows the initial state and returns. The widgets' HTML ids end in
// -image, -class, -method, -layer, -stop and the picture's in -picture, after a prefix
// "explorer-N" (N counts the explorers of the cell's program).
func Explore(m *models.Model, b *Batch, methods []gradcam.Method, duration time.Duration) {
	if m == nil || b == nil || len(b.Pictures) == 0 {
		Error(fmt.Errorf("explore: no model or no images"))
		return
	}
	if len(methods) == 0 {
		methods = []gradcam.Method{gradcam.GradCAM}
	}
	if duration <= 0 {
		duration = 10 * time.Minute
	}
	layers := m.ExplainableLayers()
	if len(layers) == 0 {
		Error(fmt.Errorf("explore: %s has no spatial layer to explain", m.Name))
		return
	}
	layer := max(0, slices.Index(layers, m.DefaultLayer()))
	top, err := m.Predict(b.Input, 5)
	if Error(err) {
		return
	}
	e := ExplainerOf(m)
	id := fmt.Sprintf("explorer-%d", explorers.Add(1))
	state := struct{ image, rank, method, layer int }{0, 0, 0, layer}
	render := func() {
		html, err := explorerHTML(e, b, top, methods, layers, state.image, state.rank, state.method, state.layer, id)
		if err != nil {
			html = fmt.Sprintf(`<pre id="%s-picture">%s</pre>`, id, htmlEscape(err.Error()))
		}
		updateHTML(id+"-out", html)
	}

	ranks := make([]string, len(top[0]))
	for i := range ranks {
		ranks[i] = fmt.Sprintf("top %d", i+1)
	}
	names := make([]string, len(methods))
	for i, mt := range methods {
		names[i] = string(mt)
	}
	displayHTML(fmt.Sprintf(`<div style="display:flex;gap:12px;align-items:center;flex-wrap:wrap">`+
		`<span id="%[1]s-w-image">image </span><span id="%[1]s-w-class">class </span><span id="%[1]s-w-method">method </span>`+
		`<span id="%[1]s-w-layer">layer </span><span id="%[1]s-w-stop"></span></div>`, id))
	var (
		imageSel, classSel, methodSel *widgets.SelectBuilder
		layerSlider                   *widgets.SliderBuilder
		stop                          *widgets.ButtonBuilder
	)
	render()
	live := interactive(func() {
		imageSel = widgets.Select(b.Names).WithHtmlId(id + "-image").AppendTo(id + "-w-image").Done()
		classSel = widgets.Select(ranks).WithHtmlId(id + "-class").AppendTo(id + "-w-class").Done()
		methodSel = widgets.Select(names).WithHtmlId(id + "-method").AppendTo(id + "-w-method").Done()
		layerSlider = widgets.Slider(0, len(layers)-1, layer).WithHtmlId(id + "-layer").AppendTo(id + "-w-layer").Done()
		stop = widgets.Button("Stop").WithHtmlId(id + "-stop").AppendTo(id + "-w-stop").Done()
	})
	if !live {
		return
	}
	imageC, classC, methodC := imageSel.Listen().LatestOnly(), classSel.Listen().LatestOnly(), methodSel.Listen().LatestOnly()
	layerC, stopC := layerSlider.Listen().LatestOnly(), stop.Listen()
	deadline := time.After(duration)
	for {
		select {
		case v := <-imageC.C:
			state.image = v
		case v := <-classC.C:
			state.rank = v
		case v := <-methodC.C:
			state.method = v
		case v := <-layerC.C:
			state.layer = v
		case <-stopC.C:
			fmt.Println("explorer stopped")
			return
		case <-deadline:
			fmt.Println("explorer closed after", duration)
			return
		}
		render()
	}
}

// explorerHTML explains one state of the explorer: the caption and the picture.
func explorerHTML(e *gradcam.Explainer, b *Batch, top [][]models.Prediction, methods []gradcam.Method, layers []string,
	img, rank, method, layer int, id string) (string, error) {
	class := top[img][min(rank, len(top[img])-1)].Class
	x, err := imageOf(b.Input, img)
	if err != nil {
		return "", err
	}
	defer x.FinalizeAll()
	mt := methods[method]
	res, err := e.Explain(x, gradcam.Request{Methods: []gradcam.Method{mt}, Layers: []string{layers[layer]}, Classes: []int{class}})
	if err != nil {
		return "", err
	}
	figs, err := ExplanationFigures(b.Pictures[img], res.At(0, 0), Style{}, mt)
	if err != nil {
		return "", err
	}
	src, err := dataURL(figs[1].Image)
	if err != nil {
		return "", err
	}
	caption := fmt.Sprintf("%s, layer %s (%d of %d): %s", b.Names[img], layers[layer], layer+1, len(layers), figs[1].Caption)
	return fmt.Sprintf(`<div id="%[1]s-caption">%[2]s</div><img id="%[1]s-picture" src="%[3]s" width="%[4]d"/>`,
		id, htmlEscape(caption), src, max(224, figs[1].Image.Bounds().Dx())), nil
}

// imageOf is image i of a batch, as a batch of one.
func imageOf(batch *tensors.Tensor, i int) (*tensors.Tensor, error) {
	dims := batch.Shape().Dimensions
	if i < 0 || i >= dims[0] {
		return nil, fmt.Errorf("image %d of a batch of %d", i, dims[0])
	}
	size := batch.Shape().Size() / dims[0]
	flat := tensors.MustCopyFlatData[float32](batch)
	return tensors.FromFlatDataAndDimensions(flat[i*size:(i+1)*size], append([]int{1}, dims[1:]...)...), nil
}

// Flipbook shows one of a sequence of figures at a time with a slider to move through them (the
// steps of a gradient ascent, the layers of a network), starting at the last. Like Explore, it
// keeps the cell running until Stop or the duration (0: 10 minutes), and without a browser it
// shows the last figure and returns. Its widgets' ids are "flipbook-N-slider", "-stop" and
// "-picture".
func Flipbook(frames []Figure, duration time.Duration) {
	if len(frames) == 0 {
		Error(fmt.Errorf("flipbook: no figures"))
		return
	}
	if duration <= 0 {
		duration = 10 * time.Minute
	}
	id := fmt.Sprintf("flipbook-%d", explorers.Add(1))
	show := func(i int) {
		i = min(max(i, 0), len(frames)-1)
		src, err := dataURL(frames[i].Image)
		if Error(err) {
			return
		}
		updateHTML(id+"-out", fmt.Sprintf(`<figure style="margin:0"><img id="%s-picture" src="%s" width="%d"/>`+
			`<figcaption id="%s-caption">%s</figcaption></figure>`, id, src, frames[i].Image.Bounds().Dx(), id, htmlEscape(frames[i].Caption)))
	}
	displayHTML(fmt.Sprintf(`<div style="display:flex;gap:12px;align-items:center"><span id="%[1]s-w-slider"></span>`+
		`<span id="%[1]s-w-stop"></span></div>`, id))
	show(len(frames) - 1)
	var (
		slider *widgets.SliderBuilder
		stop   *widgets.ButtonBuilder
	)
	if !interactive(func() {
		slider = widgets.Slider(0, len(frames)-1, len(frames)-1).WithHtmlId(id + "-slider").AppendTo(id + "-w-slider").Done()
		stop = widgets.Button("Stop").WithHtmlId(id + "-stop").AppendTo(id + "-w-stop").Done()
	}) {
		return
	}
	sliderC, stopC := slider.Listen().LatestOnly(), stop.Listen()
	deadline := time.After(duration)
	for {
		select {
		case v := <-sliderC.C:
			show(v)
		case <-stopC.C:
			return
		case <-deadline:
			return
		}
	}
}

func htmlEscape(s string) string { return strings.ReplaceAll(html.EscapeString(s), "\n", "<br/>") }
