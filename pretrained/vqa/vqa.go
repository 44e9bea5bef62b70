// Package vqa is the visual question answering model shipped with the toolkit: a small CNN over
// generated scenes (data.Scenes), a GRU over the question whose state scales and shifts the
// channels of two more convolutions (FiLM), global average pooling, and an answer classifier,
// trained in GoMLX. It answers "what color is the
// SHAPE?" (one colour, or two: "yellow and red") and "what shape is the COLOR object?".
//
// Grad-CAM explains any answer with the question held fixed (models.Model.Given): the map of an
// answer is where the image supports it. Retrain it with "go run ./pretrained/vqa/retrain".
package vqa

import (
	_ "embed"
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
)

// How the shipped model is made (the retrain command's settings).
const (
	MaxWords  = 10 // words a question may have
	TrainN    = 6000
	Epochs    = 15
	EmbedDim  = 32
	Hidden    = 64
	Channels  = 64
	Layer     = "fused" // the image layer explanations use: the features the question modulated
	padding   = "<pad>"
	modelName = "vqa"
)

// Vocabulary is the words questions may use, padding first: token ids index it.
func Vocabulary() []string {
	words := []string{padding, "what", "color", "shape", "is", "the", "object", "and"}
	words = append(words, data.SceneShapes()...)
	return append(words, data.SceneColorNames()...)
}

// Answers are the answers the model chooses from: every colour, every ordered pair of two
// colours ("yellow and red": top half, bottom half), and every shape.
func Answers() []string {
	colors := data.SceneColorNames()
	answers := slices.Clone(colors)
	for _, a := range colors {
		for _, b := range colors {
			if a != b {
				answers = append(answers, a+" and "+b)
			}
		}
	}
	return append(answers, data.SceneShapes()...)
}

// Network is the VQA network: the image [3, Size, Size] is its explained input; the question's
// token ids [MaxWords] and length [] are side inputs.
func Network() *nn.Network {
	vocab, answers := Vocabulary(), Answers()
	return &nn.Network{Name: modelName, Input: []int{3, scenes.Size, scenes.Size}, Labels: answers, DefaultLayer: Layer,
		Side: scenes.SentenceInputs(MaxWords),
		Build: func(b *nn.Builder, x *graph.Node) *graph.Node {
			f := scenes.Trunk(b, x) // [B, h, w, C]
			words := b.Embedding("embed", scenes.Words(b), len(vocab), EmbedDim)
			_, q := b.GRU("gru", words, scenes.Length(b), Hidden) // [B, Hidden]
			// Two blocks whose channels the question scales and shifts (FiLM), so that the explained
			// layer's maps are the question's: the queried object's features, not every object's.
			channel := func(v *graph.Node) *graph.Node { return graph.Reshape(v, v.Shape().Dimensions[0], 1, 1, Channels) }
			for _, name := range []string{"film1", Layer} {
				scale, shift := b.Linear(nn.Path(name, "scale"), q, Channels), b.Linear(nn.Path(name, "shift"), q, Channels)
				g := b.BatchNorm(nn.Path(name, "bn"), b.Conv2D(nn.Path(name, "conv"), f, nn.Conv{Out: Channels, Kernel: 3, Padding: 1, NoBias: true}))
				f = b.ReLU(name, graph.Add(graph.Mul(g, graph.OnePlus(channel(scale))), channel(shift)))
			}
			// Global average pooling: each position's share of the answer is its features' share.
			pooled := b.GlobalAvgPool("gap", f)
			h := b.ReLU("relu5", b.Linear("fuse", graph.Concatenate([]*graph.Node{pooled, q}, -1), 128))
			return b.Linear("answer", h, len(answers))
		}}
}

// Encode turns a question into the network's side inputs: token ids padded to MaxWords, and
// the number of words. Case and a final "?" do not matter.
func Encode(question string) (tokens []int32, length int32, err error) {
	words := strings.Fields(strings.ToLower(strings.ReplaceAll(question, "?", " ")))
	if len(words) == 0 {
		return nil, 0, fmt.Errorf("the question is empty: ask e.g. \"what color is the circle?\"")
	}
	if len(words) > MaxWords {
		return nil, 0, fmt.Errorf("the question has %d words; the model reads at most %d", len(words), MaxWords)
	}
	vocab := Vocabulary()
	tokens = make([]int32, MaxWords)
	for i, w := range words {
		id := slices.Index(vocab, w)
		if id <= 0 {
			return nil, 0, fmt.Errorf("the word %q is not in the model's vocabulary (%s)", w, strings.Join(vocab[1:], " "))
		}
		tokens[i] = int32(id)
	}
	return tokens, int32(len(words)), nil
}

// AnswerIndex is the model's output index of an answer.
func AnswerIndex(answer string) (int, error) {
	answers := Answers()
	if i := slices.Index(answers, strings.ToLower(strings.TrimSpace(answer))); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("%q is not one of the model's answers (%s)", answer, strings.Join(answers, ", "))
}

// Examples makes the training (or test) set of scenes: one example per question, its scene's
// image as the input, its answer as the label, and the question as side inputs.
func Examples(name string, all []data.Scene) (*data.Set, error) {
	set := &data.Set{Name: name, Shape: []int{3, scenes.Size, scenes.Size}, Classes: Answers(),
		Side: scenes.SentenceData(MaxWords)}
	for _, sc := range all {
		pixels := scenes.Values(sc.Image)
		for _, q := range sc.Questions {
			tokens, length, err := Encode(q.Question)
			if err != nil {
				return nil, err
			}
			answer, err := AnswerIndex(q.Answer)
			if err != nil {
				return nil, err
			}
			set.Inputs = append(set.Inputs, pixels...)
			set.Labels = append(set.Labels, int32(answer))
			scenes.AppendSentence(set, tokens, length)
		}
	}
	return set, set.Check()
}

//go:embed vqa.safetensors
var weights []byte

// Load returns the shipped model (models.OnBackend chooses its backend).
func Load(opts ...models.Option) (*models.Model, error) {
	return models.LoadEmbedded(Network(), weights, "the embedded VQA model (pretrained/vqa)", opts...)
}

// Ask holds a question fixed on the model, for explaining and answering it: gradcam.New(given)
// explains the image's answers, its Logits score them.
func Ask(m *models.Model, question string) (*models.Given, error) {
	return scenes.Given(m, question, Encode)
}

// Measures are what Measure finds on a set of scenes.
type Measures struct {
	Questions int
	Accuracy  float64 // share of questions answered right
	// ObjectMass is the mean share of the right answer's Grad-CAM on the queried object's pixels;
	// ObjectArea the mean share of the image those pixels are.
	ObjectMass, ObjectArea float64
	// For colour questions on two-coloured objects, each single colour's Grad-CAM: OwnHalf is the
	// mean share of its mass on that colour's half of the object, OtherHalf on the other half.
	TwoColourMaps      int
	OwnHalf, OtherHalf float64
}

// Measure asks every question of the scenes and measures the answers and their Grad-CAM maps
// (package doc): what the test asserts on held-out scenes and notebook 16 shows.
func Measure(m *models.Model, all []data.Scene) (Measures, error) {
	var r Measures
	var objMass, objArea, own, other []float64
	right := 0
	for _, sc := range all {
		x := scenes.Input(sc.Image)
		for _, q := range sc.Questions {
			given, err := Ask(m, q.Question)
			if err != nil {
				return r, err
			}
			want, err := AnswerIndex(q.Answer)
			if err != nil {
				return r, err
			}
			obj := sc.Objects[q.Object]
			classes := []int{-1, want}
			twoColour := strings.HasPrefix(q.Question, "what color") && len(obj.Colors) == 2
			if twoColour {
				for _, c := range obj.Colors {
					i, _ := AnswerIndex(c)
					classes = append(classes, i)
				}
			}
			exps, err := gradcam.New(given).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: classes,
				Layers: []string{Layer}})
			if err != nil {
				return r, err
			}
			r.Questions++
			if exps[0].Class == want {
				right++
			}
			mass, err := massOn(exps[1], obj.Mask)
			if err != nil {
				return r, err
			}
			objMass, objArea = append(objMass, mass), append(objArea, data.Coverage(obj.Mask))
			if twoColour {
				for k := range 2 {
					a, err := massOn(exps[2+k], obj.ColorMasks[k])
					if err != nil {
						return r, err
					}
					b, _ := massOn(exps[2+k], obj.ColorMasks[1-k])
					own, other = append(own, a), append(other, b)
				}
			}
		}
	}
	if r.Questions == 0 {
		return r, fmt.Errorf("the scenes ask no questions")
	}
	r.Accuracy = float64(right) / float64(r.Questions)
	r.ObjectMass, r.ObjectArea = scenes.Mean(objMass), scenes.Mean(objArea)
	r.TwoColourMaps, r.OwnHalf, r.OtherHalf = len(own), scenes.Mean(own), scenes.Mean(other)
	return r, nil
}

// massOn is the share of an explanation's Grad-CAM on a mask's pixels.
func massOn(ex *gradcam.Explanation, mask []bool) (float64, error) {
	hm, err := metrics.HeatmapOf(ex.Maps[gradcam.GradCAM])
	if err != nil {
		return 0, err
	}
	return metrics.MassInMask(hm, mask)
}

// Answer is the model's best answer to a question about an image, with its probability.
func Answer(m *models.Model, img *image.RGBA, question string) (string, float64, error) {
	given, err := Ask(m, question)
	if err != nil {
		return "", 0, err
	}
	x := scenes.Input(img)
	defer x.FinalizeAll()
	logits, err := gradcam.New(given).Logits(x)
	if err != nil {
		return "", 0, err
	}
	best := models.TopK(logits[0], m.Labels, 1)[0]
	return best.Label, best.Probability, nil
}
