// Package disks is the regression CNN shipped for Regression Activation Maps (RAM): a
// zoo.SmallCNN with global average pooling and one linear output, trained in GoMLX to
// estimate the red disks' area (percent of the image) in data.GenerateDisks images. RAM is CAM
// with the regression unit's weights. Retrain it with "go run ./pretrained/disks/retrain".
package disks

import (
	_ "embed"

	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/nn"
)

// How the shipped model was made (the retrain command's settings).
const (
	Size      = 48
	TrainSeed = 1
	TestSeed  = 2 // held-out images, never trained on
	TrainN    = 6000
	Epochs    = 8
)

// Label names the single output.
const Label = "red area %"

// Network is the regression CNN: three conv-BN-ReLU blocks (16, 32, 32 channels, 2x2 max pooling
// between them), global average pooling, one linear output ("fc").
func Network() *nn.Network {
	net, err := zoo.SmallCNN("disks", []int{3, Size, Size}, []string{Label}, "gap", 16, 32, 32)
	if err != nil {
		panic(err) // fixed arguments
	}
	return net
}

//go:embed disks.safetensors
var weights []byte

// Load returns the shipped model (models.OnBackend chooses its backend).
func Load(opts ...models.Option) (*models.Model, error) {
	return models.LoadEmbedded(Network(), weights, "the embedded disks regression model (pretrained/disks)", opts...)
}
