package text

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/heatmap"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
)

// CharWeight is one character of the text and its share of the evidence, in [0, 1].
type CharWeight struct {
	Char   string  `json:"char"`
	Weight float64 `json:"weight"`
}

// WordWeight is one word (a run of letters, digits and apostrophes) and the mean weight of its
// characters.
type WordWeight struct {
	Word   string  `json:"word"`
	Weight float64 `json:"weight"`
}

// Explanation is a text's Grad-CAM over characters for one class.
type Explanation struct {
	Text           string       `json:"text"`
	Class          int          `json:"class"`
	Label          string       `json:"label"`
	Probability    float64      `json:"probability"`
	Counterfactual bool         `json:"counterfactual,omitempty"`
	Chars          []CharWeight `json:"chars"`
	Words          []WordWeight `json:"words"`
	// AllZero says no character has positive evidence (every weight is 0).
	AllZero bool `json:"all_zero,omitempty"`
}

// Explainer explains texts with a CharCNN model.
type Explainer struct {
	Model *models.Model
	Vocab *Vocabulary
	ex    *gradcam.Explainer
}

// NewExplainer wraps a CharCNN model (layers relu3, relu4, relu5) and its vocabulary.
func NewExplainer(m *models.Model, v *Vocabulary) *Explainer {
	return &Explainer{Model: m, Vocab: v, ex: gradcam.New(m)}
}

// MaxLength is the longest text the model takes, in characters.
func (e *Explainer) MaxLength() int { return e.Model.Input[1] }

// Explain computes Grad-CAM (or, with counterfactual, counterfactual Grad-CAM) of class (< 0: the
// predicted class) at the ReLU of every filter width, upsamples each map (of length L-w+1) to the
// input length linearly (PyTorch's F.interpolate, align_corners=False), averages them, keeps the
// text's characters and divides by the largest weight; words get the mean of their characters.
func (e *Explainer) Explain(s string, class int, counterfactual bool) (*Explanation, error) {
	length := e.MaxLength()
	x, err := e.Vocab.Encode(s, length)
	if err != nil {
		return nil, err
	}
	if class >= e.Model.Outputs {
		return nil, fmt.Errorf("class %d out of range: the model has %d outputs (0-%d)", class, e.Model.Outputs, e.Model.Outputs-1)
	}
	method := gradcam.GradCAM
	if counterfactual {
		method = gradcam.Counterfactual
	}
	in := tensors.FromFlatDataAndDimensions(x, 1, 1, length)
	sum := make([]float64, length)
	out := &Explanation{Text: s, Counterfactual: counterfactual}
	for _, w := range widths {
		req := gradcam.Request{Methods: []gradcam.Method{method}, Layers: []string{fmt.Sprint("relu", w)}}
		if class >= 0 {
			req.Classes = []int{class}
		}
		res, err := e.ex.Explain(in, req)
		if err != nil {
			return nil, err
		}
		r := res[0]
		out.Class, out.Label, out.Probability = r.Class, r.Label, r.Probability
		for i, v := range Upsample(r.Maps[method].LowRes, length) {
			sum[i] += v / float64(len(widths))
		}
	}
	chars := []rune(strings.ToLower(s))
	orig := []rune(s)
	n := min(len(chars), len(orig), length)
	top := 0.0
	for i := range n {
		top = max(top, sum[i])
	}
	out.AllZero = top <= 0
	for i := range n {
		wgt := 0.0
		if top > 0 {
			wgt = sum[i] / top
		}
		out.Chars = append(out.Chars, CharWeight{Char: string(orig[i]), Weight: wgt})
	}
	out.Words = words(out.Chars)
	return out, nil
}

// Upsample resizes a 1-D map to n values by linear interpolation with half-sample centres
// (PyTorch's F.interpolate(mode="linear", align_corners=False)).
func Upsample(m []float32, n int) []float64 {
	up := heatmap.Resize(m, 1, len(m), 1, n)
	out := make([]float64, n)
	for i, v := range up {
		out[i] = float64(v)
	}
	return out
}

// words groups characters into words with the mean weight of their characters.
func words(chars []CharWeight) []WordWeight {
	var out []WordWeight
	var word strings.Builder
	sum, n := 0.0, 0
	flush := func() {
		if n > 0 {
			out = append(out, WordWeight{Word: word.String(), Weight: sum / float64(n)})
		}
		word.Reset()
		sum, n = 0, 0
	}
	for _, c := range chars {
		r := []rune(c.Char)[0]
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
			word.WriteString(c.Char)
			sum += c.Weight
			n++
			continue
		}
		flush()
	}
	flush()
	return out
}

// VocabularyPath is where the vocabulary of the checkpoint at path is kept: FILE.safetensors ->
// FILE.vocab.txt (beside FILE.labels.txt).
func VocabularyPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".vocab.txt"
}

// Load reads a CharCNN checkpoint (as Model.Save writes it; its sizes are read from its weights),
// its vocabulary (VocabularyPath) and labels (checkpoint.LabelsPath), for texts of up to length
// characters.
func Load(path string, length int, opts ...models.Option) (*Explainer, error) {
	v, err := ReadVocabulary(VocabularyPath(path))
	if err != nil {
		return nil, fmt.Errorf("%w (a text model needs its vocabulary beside it)", err)
	}
	w, err := checkpoint.Read(path)
	if err != nil {
		return nil, err
	}
	embed, conv, fc := w["embed.weight"], w[fmt.Sprint("conv", widths[0], ".weight")], w["fc.weight"]
	if embed == nil || conv == nil || fc == nil || len(embed.Shape) != 3 || len(conv.Shape) != 3 || len(fc.Shape) != 2 {
		return nil, fmt.Errorf("%s is not a text.CharCNN checkpoint (embed.weight, conv3.weight, fc.weight)", path)
	}
	if embed.Shape[1] != v.Size() {
		return nil, fmt.Errorf("%s embeds %d characters but its vocabulary %s has %d: they do not belong together",
			path, embed.Shape[1], VocabularyPath(path), v.Size())
	}
	var labels []string
	if p := checkpoint.LabelsPath(path); fileExists(p) {
		if labels, err = checkpoint.ReadLabels(p); err != nil {
			return nil, err
		}
	}
	if labels == nil {
		for i := range fc.Shape[0] {
			labels = append(labels, fmt.Sprint(i))
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	m, err := models.NewModel(CharCNN(name, v.Size(), length, embed.Shape[0], conv.Shape[0], labels), w, path, opts...)
	if err != nil {
		return nil, err
	}
	return NewExplainer(m, v), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
