package notebook

import (
	"fmt"
	"image"
	"math"
	"strings"
	"sync"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/pretrained/caption"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
	"github.com/gradcam-go/gradcam/pretrained/vqa"
)

// Scenes makes n generated scenes of coloured shapes (data.Scenes, at the size the VQA and
// captioning models take), shows them with their captions and questions, and returns them.
func Scenes(n int, seed uint64) []data.Scene {
	all, err := scenes.Generate(n, seed)
	if Error(err) {
		return nil
	}
	figs := make([]Figure, len(all))
	for i, sc := range all {
		qs := make([]string, len(sc.Questions))
		for k, q := range sc.Questions {
			qs[k] = q.Question + " " + q.Answer
		}
		figs[i] = Figure{Image: render.Zoom(sc.Image, 3), Caption: fmt.Sprintf("%d: %s\n%s", i, sc.Caption, strings.Join(qs, "\n"))}
	}
	Error(Figures(figs...))
	return all
}

// VQA and CaptionModel are the shipped VQA and captioning models, loaded once per session; nil
// after showing the error when they cannot be.
func VQA() *models.Model {
	return shipped(&vqaModel, func() (*models.Model, error) { return vqa.Load() })
}

// CaptionModel is the shipped captioner (see VQA).
func CaptionModel() *models.Model {
	return shipped(&captionModel, func() (*models.Model, error) { return caption.Load() })
}

var (
	sceneModelsMu sync.Mutex
	vqaModel      *models.Model
	captionModel  *models.Model
)

// shipped loads one of the shipped scene models once per session.
func shipped(m **models.Model, load func() (*models.Model, error)) *models.Model {
	sceneModelsMu.Lock()
	defer sceneModelsMu.Unlock()
	if *m == nil {
		var err error
		if *m, err = load(); Error(err) {
			return nil
		}
	}
	return *m
}

// Ask asks the shipped VQA model (pretrained/vqa) a question about a picture, shows its top three
// answers and, for each answer given (none: its best), one row of the methods' maps (default
// Grad-CAM, guided backpropagation and Guided Grad-CAM). It returns one explanation per answer.
func Ask(img *image.RGBA, question string, answers []string, methods ...gradcam.Method) gradcam.Results {
	if img == nil {
		return nil
	}
	m := VQA()
	if m == nil {
		return nil
	}
	given, err := vqa.Ask(m, question)
	if Error(err) {
		return nil
	}
	classes := []int{-1}
	if len(answers) > 0 {
		classes = classes[:0]
		for _, a := range answers {
			c, err := vqa.AnswerIndex(a)
			if Error(err) {
				return nil
			}
			classes = append(classes, c)
		}
	}
	if len(methods) == 0 {
		methods = []gradcam.Method{gradcam.GradCAM, gradcam.GuidedBackprop, gradcam.GuidedGradCAM}
	}
	e := ExplainerOf(given)
	x := scenes.Input(img)
	logits, err := e.Logits(x)
	if Error(err) {
		return nil
	}
	top := models.TopK(logits[0], m.Labels, 3)
	parts := make([]string, len(top))
	for i, p := range top {
		parts[i] = fmt.Sprintf("%s (%.2f)", p.Label, p.Probability)
	}
	Markdown(fmt.Sprintf("**%s** the model answers: %s", question, strings.Join(parts, ", ")))
	return Explain(given, &Batch{Input: x, Pictures: []*image.RGBA{scenes.Fitted(img)}, Names: []string{question}},
		gradcam.Request{Methods: methods, Classes: classes, Layers: []string{vqa.Layer}}, Style{Zoom: 3})
}

// ExplainCaption captions a picture with the shipped captioner (pretrained/caption), or takes the caption
// given, and shows Grad-CAM of the whole caption's log-probability and of each word's given the
// words before it. It returns the caption's words and their explanations, then the whole
// caption's explanation.
func ExplainCaption(img *image.RGBA, text string) ([]caption.Word, gradcam.Results, *gradcam.Explanation) {
	if img == nil {
		return nil, nil, nil
	}
	m := CaptionModel()
	if m == nil {
		return nil, nil, nil
	}
	if text == "" {
		var err error
		if text, _, err = caption.Describe(m, img); Error(err) {
			return nil, nil, nil
		}
	}
	words, perWord, whole, err := caption.Explain(m, img, text)
	if Error(err) {
		return nil, nil, nil
	}
	given, err := caption.Given(m, text)
	if Error(err) {
		return nil, nil, nil
	}
	logits, err := ExplainerOf(given).Logits(scenes.Input(img))
	if Error(err) {
		return nil, nil, nil
	}
	probs := caption.Probabilities(logits[0], words)
	pic := render.Zoom(scenes.Fitted(img), 3)
	figs := []Figure{{Image: pic, Caption: text}}
	add := func(ex *gradcam.Explanation, label string) bool {
		f, err := ExplanationFigures(scenes.Fitted(img), ex, Style{Zoom: 3}, gradcam.GradCAM)
		if Error(err) {
			return false
		}
		figs = append(figs, Figure{Image: f[1].Image, Caption: label})
		return true
	}
	if !add(whole, "the whole caption") {
		return nil, nil, nil
	}
	for i, w := range words {
		if !add(perWord[i], fmt.Sprintf("%q (p=%.2f)", w.Word, probs[i])) {
			return nil, nil, nil
		}
	}
	Error(Figures(figs...))
	return words, perWord, whole
}

// MassOn is the share of an explanation's map (of method) on a region's pixels, a mask over the
// map (metrics.MassInMask): where a VQA answer's or a caption word's evidence lies. NaN on error.
func MassOn(ex *gradcam.Explanation, method gradcam.Method, mask []bool) float64 {
	hm, err := metrics.HeatmapOf(ex.Maps[method])
	if err == nil {
		var share float64
		if share, err = metrics.MassInMask(hm, mask); err == nil {
			return share
		}
	}
	Error(err)
	return math.NaN()
}

// SceneAsking returns the first of 500 scenes of a seed (at the scene models' size) with a
// question that pred accepts, and that question. On failure it shows why and returns an empty
// scene.
func SceneAsking(seed uint64, pred func(data.Scene, data.SceneQuestion) bool) (data.Scene, data.SceneQuestion) {
	all, err := scenes.Generate(500, seed)
	if Error(err) {
		return data.Scene{}, data.SceneQuestion{}
	}
	for _, sc := range all {
		for _, q := range sc.Questions {
			if pred(sc, q) {
				return sc, q
			}
		}
	}
	Error(fmt.Errorf("no scene of seed %d asks such a question", seed))
	return data.Scene{}, data.SceneQuestion{}
}
