// Package caption is the image captioning model shipped with the toolkit: a small CNN encodes a
// generated scene (data.Scenes) into a vector, and a GRU decoder, fed at every step that vector
// and the word before (teacher forcing), scores the next word. Greedy decoding captions an
// image: "a red circle and a yellow and blue square".
//
// Grad-CAM explains the whole caption's log-probability (gradcam.SequenceLogProbability) and
// each word's given the words before it (gradcam.StepLogProbability), with the caption held fixed
// (models.Model.Given). Retrain it with "go run ./pretrained/caption/retrain".
package caption

import (
	_ "embed"
	"fmt"
	"image"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
)

// How the shipped model is made (the retrain command's settings).
const (
	MaxWords = 17 // words a caption may have: three objects, each "a C and C shape", joined by "and"
	Steps    = MaxWords + 1
	TrainN   = 10000
	Epochs   = 25
	EmbedDim = 32
	ImageDim = 256
	Hidden   = 192
	Layer    = scenes.Features // the image layer explanations use
	End      = "<end>"
	padding  = "<pad>"
	sideNext = "next" // the training labels: the word each step should predict
)

// Vocabulary is the words captions use, padding and the end mark first: token ids index it.
func Vocabulary() []string {
	words := []string{padding, End, "a", "and"}
	return append(append(words, data.SceneColorNames()...), data.SceneShapes()...)
}

// Network is the captioner: the image [3, Size, Size] is its explained input; the caption's words
// [MaxWords] and their number [] are side inputs. Its outputs are Steps x len(Vocabulary())
// scores: step k scores the word after the first k words (the end mark after the last).
func Network() *nn.Network {
	vocab := Vocabulary()
	var labels []string
	for k := range Steps {
		for _, w := range vocab {
			labels = append(labels, fmt.Sprintf("%d:%s", k, w))
		}
	}
	return &nn.Network{Name: "caption", Input: []int{3, scenes.Size, scenes.Size}, Labels: labels, DefaultLayer: Layer,
		Side: scenes.SentenceInputs(MaxWords),
		Build: func(b *nn.Builder, x *graph.Node) *graph.Node {
			f := scenes.Trunk(b, x)
			f = b.MaxPool2D("pool3", f, nn.Pool{Kernel: 2})
			img := b.Linear("image", b.Flatten("flatten", f), ImageDim) // [B, I]
			// Step k reads the word before it (the padding token at step 0) beside the image.
			prev := graph.Concatenate([]*graph.Node{graph.ZerosLike(graph.Slice(scenes.Words(b), graph.AxisRange(), graph.AxisRange(0, 1))),
				scenes.Words(b)}, 1) // [B, Steps]
			words := b.Embedding("embed", prev, len(vocab), EmbedDim)
			seq := graph.Concatenate([]*graph.Node{words, graph.BroadcastToDims(graph.ExpandAxes(img, 1),
				img.Shape().Dimensions[0], Steps, ImageDim)}, -1) // [B, Steps, E+I]
			steps := graph.AddScalar(scenes.Length(b), 1)
			states, _ := b.GRU("gru", seq, steps, Hidden) // [B, Steps, H]
			batch := states.Shape().Dimensions[0]
			out := b.Linear("out", graph.Reshape(states, batch*Steps, Hidden), len(vocab))
			return graph.Reshape(out, batch, Steps*len(vocab))
		}}
}

// Encode turns a caption into token ids, padded to MaxWords, and its number of words.
func Encode(caption string) (tokens []int32, length int32, err error) {
	words := strings.Fields(strings.ToLower(strings.TrimSuffix(strings.TrimSpace(caption), ".")))
	if len(words) == 0 {
		return nil, 0, fmt.Errorf("the caption is empty")
	}
	if len(words) > MaxWords {
		return nil, 0, fmt.Errorf("the caption has %d words; the model writes at most %d", len(words), MaxWords)
	}
	vocab := Vocabulary()
	tokens = make([]int32, MaxWords)
	for i, w := range words {
		id := slices.Index(vocab, w)
		if id < 2 {
			return nil, 0, fmt.Errorf("the word %q is not in the model's vocabulary (%s)", w, strings.Join(vocab[2:], " "))
		}
		tokens[i] = int32(id)
	}
	return tokens, int32(len(words)), nil
}

// next is what each step should predict for a caption: its words, then the end mark, then -1.
func next(tokens []int32, length int32) []int32 {
	out := make([]int32, Steps)
	for k := range out {
		switch {
		case k < int(length):
			out[k] = tokens[k]
		case k == int(length):
			out[k] = int32(slices.Index(Vocabulary(), End))
		default:
			out[k] = -1
		}
	}
	return out
}

// Examples makes the training (or test) set: one example per scene, its image as the input and
// its caption as the side inputs and the step labels (train.Options.StepLabels "next").
func Examples(name string, all []data.Scene) (*data.Set, error) {
	set := &data.Set{Name: name, Shape: []int{3, scenes.Size, scenes.Size},
		Side: append(scenes.SentenceData(MaxWords), data.SideData{Name: sideNext, Shape: []int{Steps}})}
	for _, sc := range all {
		tokens, length, err := Encode(sc.Caption)
		if err != nil {
			return nil, fmt.Errorf("scene caption %q: %w", sc.Caption, err)
		}
		set.Inputs = append(set.Inputs, scenes.Values(sc.Image)...)
		scenes.AppendSentence(set, tokens, length)
		set.Side[2].Values = append(set.Side[2].Values, next(tokens, length)...)
	}
	return set, set.Check()
}

// StepLabels is the side input Examples puts the step labels in, for train.Options.StepLabels.
const StepLabels = sideNext

//go:embed caption.safetensors
var weights []byte

// Load returns the shipped model (models.OnBackend chooses its backend).
func Load(opts ...models.Option) (*models.Model, error) {
	return models.LoadEmbedded(Network(), weights, "the embedded captioning model (pretrained/caption)", opts...)
}

// Given holds a caption fixed on the model, for explaining it: gradcam.New(given) with the
// targets of Caption.
func Given(m *models.Model, caption string) (*models.Given, error) {
	return scenes.Given(m, caption, Encode)
}

// Describe captions an image greedily: at each step the most probable word, until the end mark
// or MaxWords words. It returns the caption and its log-probability.
func Describe(m *models.Model, img *image.RGBA) (string, float64, error) {
	vocab := Vocabulary()
	x := scenes.Input(img)
	defer x.FinalizeAll()
	tokens := make([]int32, MaxWords)
	var words []string
	logp := 0.0
	for k := 0; k <= MaxWords; k++ {
		logits, err := m.Logits(x, tensors.FromFlatDataAndDimensions(slices.Clone(tokens), 1, MaxWords),
			tensors.FromFlatDataAndDimensions([]int32{int32(k)}, 1))
		if err != nil {
			return "", 0, err
		}
		step := logits[0][k*len(vocab) : (k+1)*len(vocab)]
		// The best word by the step's softmax; never the padding, nor the end before a first word.
		w, p := 0, 0.0
		for _, r := range models.TopK(step, nil, len(step)) {
			if r.Class != 0 && (k > 0 || vocab[r.Class] != End) {
				w, p = r.Class, r.Probability
				break
			}
		}
		logp += logOf(p)
		if vocab[w] == End || k == MaxWords {
			break
		}
		tokens[k] = int32(w)
		words = append(words, vocab[w])
	}
	return strings.Join(words, " "), logp, nil
}

// Word is one word of a caption to explain: its step and its class (the output index).
type Word struct {
	Word  string
	Step  int
	Class int
}

// Words lists a caption's words and its end mark with their output classes, for
// gradcam.StepLogProbability; Sequence is the classes' words, for gradcam.SequenceLogProbability.
func Words(caption string) (words []Word, sequence []int, err error) {
	tokens, length, err := Encode(caption)
	if err != nil {
		return nil, nil, err
	}
	vocab := Vocabulary()
	for k, id := range next(tokens, length) {
		if id < 0 {
			break
		}
		words = append(words, Word{Word: vocab[id], Step: k, Class: k*len(vocab) + int(id)})
		sequence = append(sequence, int(id))
	}
	return words, sequence, nil
}

// Probabilities are each word's probability given the words before it, from the model's
// outputs for one image with the caption held fixed (the softmax over the word's step).
func Probabilities(logits []float32, words []Word) []float64 {
	v := len(Vocabulary())
	out := make([]float64, len(words))
	for i, w := range words {
		step := logits[w.Step*v : (w.Step+1)*v]
		for _, p := range models.TopK(step, nil, v) {
			if p.Class == w.Class-w.Step*v {
				out[i] = p.Probability
			}
		}
	}
	return out
}

// Targets are what explaining a caption uses: each word's log-probability given the words before
// it (with Words' classes), and the whole caption's (the class is ignored).
func Targets(sequence []int) (word, whole gradcam.Target) {
	n := len(Vocabulary())
	return gradcam.StepLogProbability(n), gradcam.SequenceLogProbability(n, sequence)
}

func logOf(p float64) float64 { return math.Log(max(p, 1e-45)) }

// Measures are what Measure finds on a set of scenes.
type Measures struct {
	Scenes     int
	ExactMatch float64 // share of greedy captions equal to the scene's
	// ObjectMass is the mean share of an object word's Grad-CAM (its colours and its shape, each
	// given the true caption's words before it) on its object's pixels; ObjectArea the mean share
	// of the image those pixels are. ShapeMass is ObjectMass over the shape words alone.
	ObjectWords            int
	ObjectMass, ObjectArea float64
	ShapeMass              float64
}

// Measure captions every scene greedily and explains every shape word of its true caption: what
// the test asserts on held-out scenes and notebook 16 shows.
func Measure(m *models.Model, all []data.Scene) (Measures, error) {
	r := Measures{Scenes: len(all)}
	exact := 0
	var mass, area, shapes []float64
	for _, sc := range all {
		got, _, err := Describe(m, sc.Image)
		if err != nil {
			return r, err
		}
		if got == sc.Caption {
			exact++
		}
		words, perWord, _, err := Explain(m, sc.Image, sc.Caption)
		if err != nil {
			return r, err
		}
		for _, ow := range ObjectWordsOf(sc) {
			if w := words[ow.Step].Word; w != ow.Word {
				return r, fmt.Errorf("%q: word %d is %q, not %q", sc.Caption, ow.Step, w, ow.Word)
			}
			hm, err := metrics.HeatmapOf(perWord[ow.Step].Maps[gradcam.GradCAM])
			if err != nil {
				return r, err
			}
			s, err := metrics.MassInMask(hm, ow.Object.Mask)
			if err != nil {
				return r, err
			}
			mass, area = append(mass, s), append(area, data.Coverage(ow.Object.Mask))
			if ow.Word == ow.Object.Shape {
				shapes = append(shapes, s)
			}
		}
	}
	if len(all) == 0 {
		return r, fmt.Errorf("no scenes to measure")
	}
	r.ExactMatch = float64(exact) / float64(len(all))
	r.ObjectWords, r.ObjectMass, r.ObjectArea, r.ShapeMass = len(mass), scenes.Mean(mass), scenes.Mean(area), scenes.Mean(shapes)
	return r, nil
}

// Explain explains a caption of an image with method Grad-CAM at Layer: each word's
// log-probability given the words before it (one explanation per word, the end mark last), and
// the whole caption's.
func Explain(m *models.Model, img *image.RGBA, text string) ([]Word, gradcam.Results, *gradcam.Explanation, error) {
	return ExplainWith(m, img, text, gradcam.GradCAM)
}

// ExplainWith is Explain with another method.
func ExplainWith(m *models.Model, img *image.RGBA, text string, method gradcam.Method) ([]Word, gradcam.Results, *gradcam.Explanation, error) {
	words, sequence, err := Words(text)
	if err != nil {
		return nil, nil, nil, err
	}
	given, err := Given(m, text)
	if err != nil {
		return nil, nil, nil, err
	}
	word, whole := Targets(sequence)
	classes := make([]int, len(words))
	for i, w := range words {
		classes[i] = w.Class
	}
	ex := gradcam.New(given)
	x := scenes.InputAs(img, m.DType())
	defer x.FinalizeAll()
	req := gradcam.Request{Methods: []gradcam.Method{method}, Layers: []string{Layer}, Classes: classes, Target: word}
	perWord, err := ex.Explain(x, req)
	if err != nil {
		return nil, nil, nil, err
	}
	req.Classes, req.Target = nil, whole
	all, err := ex.Explain(x, req)
	if err != nil {
		return nil, nil, nil, err
	}
	return words, perWord, all[0], nil
}

// Ordered are a scene's objects in its caption's order (left to right).
func Ordered(sc data.Scene) []data.SceneObject {
	objs := slices.Clone(sc.Objects)
	slices.SortStableFunc(objs, func(a, b data.SceneObject) int { return a.Box.X0 - b.Box.X0 })
	return objs
}

// ObjectWord is a word of a scene's caption that names an object: one of its colours or its shape.
type ObjectWord struct {
	Word   string
	Step   int // its place in the caption, from 0
	Object data.SceneObject
}

// ObjectWordsOf lists the words of a scene's caption that name an object, in order: each object is
// "a C shape" or "a C and C shape", left to right, joined by "and".
func ObjectWordsOf(sc data.Scene) []ObjectWord {
	var out []ObjectWord
	step := 0
	for j, o := range Ordered(sc) {
		if j > 0 {
			step++ // "and"
		}
		step++ // "a"
		for k, c := range o.Colors {
			if k > 0 {
				step++ // "and"
			}
			out = append(out, ObjectWord{c, step, o})
			step++
		}
		out = append(out, ObjectWord{o.Shape, step, o})
		step++
	}
	return out
}
