// Package scenes holds what the models shipped for generated scenes (pretrained/vqa, pretrained/caption)
// share: the scenes they are trained and measured on, how a picture becomes their input, and
// their CNN trunk.
package scenes

import (
	"image"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
)

const (
	Size      = 48 // scene side, pixels
	TrainSeed = 1
	TestSeed  = 2 // held-out scenes: a seed training never saw
	// Features is the trunk's last layer, [B, 64, Size/4, Size/4].
	Features = "features"
)

// Generate makes n scenes of a seed at the models' size (data.Scenes).
func Generate(n int, seed uint64) ([]data.Scene, error) {
	return data.Scenes(n, seed, data.ScenesOptions{Size: Size})
}

// transform is the models' preprocessing: Size x Size (torchvision's resize), RGB / 255.
var transform = preprocess.Transform{Height: Size, Width: Size, Channels: 3}

// Input is a picture as the models' input, [1, 3, Size, Size]: resized as the other models'
// inputs are (preprocess.Transform.Fit), RGB / 255.
func Input(img *image.RGBA) *tensors.Tensor {
	x, err := transform.Normalize(transform.Fit(img))
	if err != nil {
		panic(err) // a 3-channel transform of an RGBA image cannot fail
	}
	return x
}

// InputAs is Input in precision dtype (float32 or float64, a model's DType).
func InputAs(img *image.RGBA, dtype dtypes.DType) *tensors.Tensor {
	x := Input(img)
	if dtype != dtypes.Float64 {
		return x
	}
	defer x.FinalizeAll()
	v := tensors.MustCopyFlatData[float32](x)
	d := make([]float64, len(v))
	for i, f := range v {
		d[i] = float64(f)
	}
	return tensors.FromFlatDataAndDimensions(d, x.Shape().Dimensions...)
}

// Values is Input's values, channels first: one example of a data.Set.
func Values(img *image.RGBA) []float32 {
	x := Input(img)
	defer x.FinalizeAll()
	return tensors.MustCopyFlatData[float32](x)
}

// Fitted is the picture as the models see it: Size x Size.
func Fitted(img *image.RGBA) *image.RGBA { return transform.Fit(img) }

// Trunk is the models' CNN: conv16-ReLU-pool, conv32-ReLU-pool, conv64-ReLU (Features),
// channels-last [B, Size/4, Size/4, 64].
func Trunk(b *nn.Builder, x *graph.Node) *graph.Node {
	x = b.ReLU("relu1", b.Conv2D("conv1", x, nn.Conv{Out: 16, Kernel: 3, Padding: 1}))
	x = b.MaxPool2D("pool1", x, nn.Pool{Kernel: 2})
	x = b.ReLU("relu2", b.Conv2D("conv2", x, nn.Conv{Out: 32, Kernel: 3, Padding: 1}))
	x = b.MaxPool2D("pool2", x, nn.Pool{Kernel: 2})
	return b.ReLU(Features, b.Conv2D("conv3", x, nn.Conv{Out: 64, Kernel: 3, Padding: 1}))
}

// Mean is the mean of v, NaN when it is empty.
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// The side inputs of both models: a sentence (a question, a caption) as token ids padded to its
// longest, and its number of words.
const (
	wordsInput  = "words"
	lengthInput = "length"
)

// SentenceInputs declares the side inputs of a model that reads a sentence of up to maxWords
// words (nn.Network.Side).
func SentenceInputs(maxWords int) []nn.SideInput {
	return []nn.SideInput{{Name: wordsInput, Shape: []int{maxWords}, DType: dtypes.Int32}, {Name: lengthInput, DType: dtypes.Int32}}
}

// Words and Length read SentenceInputs in a network's Build.
func Words(b *nn.Builder) *graph.Node  { return b.Side(wordsInput) }
func Length(b *nn.Builder) *graph.Node { return b.Side(lengthInput) }

// SentenceData are empty SentenceInputs of a data.Set, for Append.
func SentenceData(maxWords int) []data.SideData {
	return []data.SideData{{Name: wordsInput, Shape: []int{maxWords}}, {Name: lengthInput}}
}

// AppendSentence adds one example's sentence to a set's SentenceData (its first two side inputs).
func AppendSentence(set *data.Set, tokens []int32, length int32) {
	set.Side[0].Values = append(set.Side[0].Values, tokens...)
	set.Side[1].Values = append(set.Side[1].Values, length)
}

// Given holds a sentence, encoded by encode (a model's vocabulary), fixed on a model with
// SentenceInputs: what explains a picture for one question or caption.
func Given(m *models.Model, sentence string, encode func(string) ([]int32, int32, error)) (*models.Given, error) {
	tokens, length, err := encode(sentence)
	if err != nil {
		return nil, err
	}
	return m.Given(map[string]*tensors.Tensor{
		wordsInput:  tensors.FromFlatDataAndDimensions(tokens, len(tokens)),
		lengthInput: tensors.FromScalar(length),
	})
}
