package paper

import (
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/train"
)

// BiasNetwork is the bias experiment's network (the paper's Figure 8 in miniature): a small GAP
// CNN (8, 16, 32 channels) trained from seed 1 for 3 epochs (Adam 3e-3, batches of 32) on 1,500
// pictures of data.Biased whose spurious cue agrees with the label in a share agreement: 0.95
// makes a biased network, 0.5 a balanced one. About 20 s on 2 cores.
func BiasNetwork(agreement float64) (*models.Model, error) {
	net, err := zoo.SmallCNN("bias", []int{3, 64, 64}, data.BiasClasses(), "gap", 8, 16, 32)
	if err != nil {
		return nil, err
	}
	m, err := models.New(net, 1)
	if err != nil {
		return nil, err
	}
	if _, err := train.Fit(m, data.Biased(1500, 1, agreement), train.Options{Epochs: 3, BatchSize: 32, LearningRate: 3e-3, Seed: 1}); err != nil {
		return nil, err
	}
	return m, nil
}

// CueShare is where a bias network looks: over the first n pictures of set that show the cue,
// the mean share of the predicted class's Grad-CAM mass inside the cue's box (data.BiasCue(), 2.4%
// of the picture) and inside the object's box.
func CueShare(m *models.Model, set *data.Set, n int) (cue, object float64, err error) {
	e := gradcam.New(m)
	seen := 0
	for i := 0; i < set.Len() && seen < n; i++ {
		if !data.ShowsBiasCue(set, i) {
			continue
		}
		seen++
		x, _ := set.Batch([]int{i})
		res, err := e.Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, ImageClasses: []int{-1}})
		x.FinalizeAll()
		if err != nil {
			return 0, 0, err
		}
		hm, err := metrics.HeatmapOf(res[0].Maps[gradcam.GradCAM])
		if err != nil {
			return 0, 0, err
		}
		c, err := metrics.MassInBox(hm, data.BiasCue())
		if err != nil {
			return 0, 0, err
		}
		o, err := metrics.MassInBox(hm, set.Boxes[i])
		if err != nil {
			return 0, 0, err
		}
		cue, object = cue+c, object+o
	}
	return cue / float64(seen), object / float64(seen), nil
}
