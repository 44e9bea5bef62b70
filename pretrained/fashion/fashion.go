// Package fashion holds the CAM paper's trade-off in miniature: two CNNs with the same
// convolutional trunk trained in GoMLX on cluttered Fashion-MNIST (data.ClutteredFashionMNIST),
// one ending in global average pooling and one linear layer ("fashion-gap": CAM applies), one in
// two fully connected layers ("fashion-fc": CAM does not, Grad-CAM does). Their checkpoints are
// shipped inside the package; Train remakes them ("gradcam train-demo").
package fashion

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"slices"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/nn"
	gotrain "github.com/gradcam-go/gradcam/train"
)

// The demo networks' names, as the CLI's --model takes them.
const (
	GAP = "fashion-gap"
	FC  = "fashion-fc"
)

// Names returns the shipped networks' names.
func Names() []string { return []string{GAP, FC} }

// How the shipped models were made (Train's settings) and the data they are evaluated on.
const (
	Canvas    = 64    // cluttered canvas side, pixels
	TrainN    = 12000 // training items: the first of Fashion-MNIST's training split
	TrainSeed = 1     // the training set's clutter, the initial weights and the example order
	TestSeed  = 2     // the held-out set's clutter (Fashion-MNIST's test split, never trained on)
	Epochs    = 10
	BatchSize = 64
	// LearningRate is Adam's, annealed along a half cosine.
	LearningRate = 2e-3
)

// Widths returns the trunk's channels: four blocks of 3x3 convolution, batch norm and ReLU
// ("block1".."block4": block1.conv, block1.bn, block1.relu), with 2x2 max pooling after the first
// two only, so that the last block ("block4.relu", the layer CAM uses) keeps a 16x16 map: the CAM
// paper removed VGG's last pooling layers for the same reason (a finer map localizes better).
func Widths() []int { return []int{8, 16, 32, 32} }

// Network returns one of the two networks (GAP or FC) untrained. The GAP head is global average
// pooling and one linear layer ("fc"); the FC head is VGG's: average pooling to a fixed 4x4 grid
// ("avgpool", as VGG's AdaptiveAvgPool2d(7, 7)), then two fully connected layers on the flattened
// grid ("fc1", ReLU "fc1.relu", 64 units, and "fc2"). (Flattening the whole 16x16 map instead
// reached 35% held-out accuracy: fully connected layers over every position have to learn each
// position of an item that moves.)
func Network(name string) (*nn.Network, error) {
	if !IsDemo(name) {
		return nil, fmt.Errorf("unknown demo network %q: the shipped ones are %v", name, Names())
	}
	labels := data.FashionMNISTClasses()
	return &nn.Network{Name: name, Input: []int{1, Canvas, Canvas}, Labels: labels, DefaultLayer: "block4.relu",
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
			for i, w := range Widths() {
				p := fmt.Sprint("block", i+1)
				x = b.Conv2D(p+".conv", x, nn.Conv{Out: w, Kernel: 3, Padding: 1, NoBias: true})
				x = b.ReLU(p+".relu", b.BatchNorm(p+".bn", x))
				if i < 2 {
					x = b.MaxPool2D(p+".pool", x, nn.Pool{Kernel: 2})
				}
			}
			if name == GAP {
				return b.Linear("fc", b.GlobalAvgPool("gap", x), len(labels))
			}
			x = b.AdaptiveAvgPool2D("avgpool", x, 4, 4)
			x = b.ReLU("fc1.relu", b.Linear("fc1", b.Flatten("flatten", x), 64))
			return b.Linear("fc2", x, len(labels))
		}}, nil
}

// TrainSet is the training set: the first TrainN items of Fashion-MNIST's training split on
// cluttered canvases.
func TrainSet() (*data.Set, error) {
	return data.ClutteredFashionMNIST("train", TrainN, data.ClutterOptions{Canvas: Canvas, Seed: TrainSeed})
}

// TestSet is the held-out set: the first n items of Fashion-MNIST's test split (all 10,000 when
// n <= 0) on cluttered canvases, with their boxes.
func TestSet(n int) (*data.Set, error) {
	return data.ClutteredFashionMNIST("test", n, data.ClutterOptions{Canvas: Canvas, Seed: TestSeed})
}

var (
	//go:embed fashion-gap.safetensors
	gapWeights []byte
	//go:embed fashion-fc.safetensors
	fcWeights []byte
)

// Load returns a shipped network (GAP or FC).
func Load(name string, opts ...models.Option) (*models.Model, error) {
	net, err := Network(name)
	if err != nil {
		return nil, err
	}
	raw := map[string][]byte{GAP: gapWeights, FC: fcWeights}[name]
	w, err := checkpoint.ReadSafetensors(bytes.NewReader(raw), int64(len(raw)), name+".safetensors")
	if err != nil {
		return nil, fmt.Errorf("the embedded %s model: %w", name, err)
	}
	return models.NewModel(net, w, fmt.Sprintf("embedded %s (pretrained/fashion)", name), opts...)
}

// IsDemo says whether name is one of the shipped networks.
func IsDemo(name string) bool { return slices.Contains(Names(), name) }

// Train trains one of the networks from scratch with the shipped settings and returns it with its
// accuracy on the first 2,000 held-out items; progress (nil: none) receives a progress bar.
// Training is deterministic on one backend and machine. The shipped checkpoints were trained
// with the im2col convolution: GRADCAM_CONV=im2col remakes them byte for byte (the default
// convolution adds in another order, so its weights differ in the last bits).
func Train(name string, progress io.Writer) (*models.Model, float64, error) {
	return train(name, TrainN, Epochs, 2000, progress)
}

// train trains on the first n training items for epochs and evaluates on the first test items.
func train(name string, n, epochs, test int, progress io.Writer) (*models.Model, float64, error) {
	net, err := Network(name)
	if err != nil {
		return nil, 0, err
	}
	set, err := data.ClutteredFashionMNIST("train", n, data.ClutterOptions{Canvas: Canvas, Seed: TrainSeed})
	if err != nil {
		return nil, 0, err
	}
	held, err := TestSet(test)
	if err != nil {
		return nil, 0, err
	}
	m, err := models.New(net, TrainSeed)
	if err != nil {
		return nil, 0, err
	}
	if _, err := gotrain.Fit(m, set, gotrain.Options{Epochs: epochs, BatchSize: BatchSize, LearningRate: LearningRate,
		Cosine: true, Seed: TrainSeed, Progress: progress}); err != nil {
		return nil, 0, fmt.Errorf("training %s: %w", name, err)
	}
	_, acc, err := gotrain.Evaluate(m, held, 200)
	if err != nil {
		return nil, 0, err
	}
	return m, acc, nil
}
