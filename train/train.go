// Package train trains and fine-tunes models (package models) with GoMLX's own trainer,
// training loop and optimizers, on in-memory datasets (package data): cross-entropy for
// classifiers, mean squared error for regression heads.
package train

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers/cosineschedule"
	"github.com/schollz/progressbar/v3"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
)

// Options configure Fit. The zero value trains one epoch with Adam (learning rate 1e-3) in
// batches of 32.
type Options struct {
	Epochs    int // passes over the training set; default 1
	BatchSize int // default 32
	// Optimizer is "adam" (default; PyTorch's Adam: betas 0.9, 0.999, eps 1e-8) or "sgd" (plain
	// SGD, PyTorch's without momentum).
	Optimizer    string
	LearningRate float64 // default 1e-3 for Adam, 0.01 for SGD
	// Seed orders the examples (a new order each epoch); 0 keeps the dataset's order.
	Seed uint64
	// Trainable says which parameters (by PyTorch key) training changes; nil: all of them.
	// Only(prefixes...) freezes everything else (a fine-tuned head on a frozen backbone).
	//
	// Frozen means inference, Keras's convention for trainable=False: a module whose weight
	// (PATH.weight) Trainable rejects runs as at inference during training. Its batch norms
	// normalize with their running statistics and keep them, bit for bit, and its dropout is off
	// (a module without parameters, such as dropout, is judged by the same key). So a frozen
	// backbone gives the head the features it gives at inference. FrozenTrainMode changes that.
	Trainable func(key string) bool
	// FrozenTrainMode runs the frozen modules in training mode too: batch statistics, running
	// statistics updated, dropout on, as PyTorch does when model.train() is called on a model
	// with a frozen backbone. With a checkpoint whose batch norms were folded (identity running
	// statistics) this wipes the features and the head does not learn.
	FrozenTrainMode bool
	// StepLabels names a side input of the set (data.SideData) holding a label per step,
	// [steps] int32, -1 where there is none (past a caption's end). The network's outputs are then
	// steps x classes scores, [B, steps*classes] (a captioner trained with teacher forcing), and
	// the loss is the mean over the labelled steps of their cross-entropy.
	StepLabels string
	// Cosine anneals the learning rate from LearningRate to 0 along a half cosine over the run
	// (PyTorch's CosineAnnealingLR with T_max = the number of steps); the default keeps it
	// constant.
	Cosine bool
	// Progress receives a progress bar with the moving loss and accuracy; nil: none.
	Progress io.Writer
}

// Only returns a Trainable function that trains only the parameters under the given module
// paths: Only("fc") trains ResNet's new head and freezes the backbone.
func Only(paths ...string) func(key string) bool {
	return func(key string) bool {
		for _, p := range paths {
			if key == p || strings.HasPrefix(key, p+".") {
				return true
			}
		}
		return false
	}
}

// Result summarizes a training run.
type Result struct {
	Steps int
	// Loss and Accuracy are the moving averages at the end of training (Accuracy is NaN for
	// regression).
	Loss, Accuracy float64
}

// Fit trains the model on the set with GoMLX's trainer and loop. The model's weights are
// updated in place; save them with models.Save.
func Fit(m *models.Model, set *data.Set, opts Options) (*Result, error) {
	if err := checkSet(m, set, opts.StepLabels); err != nil {
		return nil, err
	}
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 32
	}
	if opts.Epochs < 0 || opts.BatchSize < 0 || opts.LearningRate < 0 || math.IsNaN(opts.LearningRate) {
		return nil, fmt.Errorf("training needs epochs >= 1, batch size >= 1 and a learning rate > 0; got %d, %d, %g",
			opts.Epochs, opts.BatchSize, opts.LearningRate)
	}
	var opt optimizers.Interface
	lr := opts.LearningRate
	switch strings.ToLower(opts.Optimizer) {
	case "", "adam":
		if lr == 0 {
			lr = 1e-3
		}
		opt = optimizers.Adam().LearningRate(lr).Epsilon(1e-8).Done()
	case "sgd":
		if lr == 0 {
			lr = 0.01
		}
		opt = optimizers.StochasticGradientDescent().WithLearningRate(lr).WithDecay(false).Done()
	default:
		return nil, fmt.Errorf("unknown optimizer %q: adam or sgd", opts.Optimizer)
	}
	ctx := m.Context()
	trainable := 0
	for _, p := range m.Params {
		v := ctx.GetVariableByScopeAndName(context.RootScope, p.Key)
		on := p.Trainable && (opts.Trainable == nil || opts.Trainable(p.Key))
		v.SetTrainable(on)
		if on {
			trainable++
		}
	}
	if trainable == 0 {
		return nil, fmt.Errorf("nothing to train: no parameter of %s is trainable with these options", m.Name)
	}
	var frozen func(path string) bool
	if opts.Trainable != nil && !opts.FrozenTrainMode {
		frozen = func(path string) bool { return !opts.Trainable(path + ".weight") }
	}
	classify := set.Labels != nil
	loss := losses.MeanSquaredError
	var trainMetrics []metrics.Interface
	if opts.StepLabels != "" {
		i := slices.IndexFunc(set.Side, func(d data.SideData) bool { return d.Name == opts.StepLabels })
		if i < 0 || len(set.Side[i].Shape) != 1 || m.Outputs%set.Side[i].Shape[0] != 0 {
			return nil, fmt.Errorf("StepLabels %q: the set needs a side input of that name, [steps], and %s outputs a multiple of steps "+
				"(%d)", opts.StepLabels, m.Name, m.Outputs)
		}
		loss, classify = stepLoss(set.Side[i].Shape[0]), false
	} else if classify {
		loss = losses.SparseCategoricalCrossEntropyLogits
		trainMetrics = append(trainMetrics, metrics.NewMovingAverageSparseCategoricalAccuracy("Moving Average Accuracy", "~acc", 0.01))
	}
	ds := &batches{model: m, set: set, stepLabels: opts.StepLabels, size: opts.BatchSize, seed: opts.Seed}
	steps := opts.Epochs * ds.perEpoch()
	// A new run restarts the schedule's own step counter.
	_ = ctx.DeleteVariable(context.ScopeSeparator+optimizers.Scope+context.ScopeSeparator+cosineschedule.Scope,
		optimizers.GlobalStepVariableName)
	modelFn := func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
		if g := inputs[0].Graph(); ctx.IsTraining(g) {
			if opts.Cosine {
				cosineschedule.New(ctx, g, dtypes.Float32).LearningRate(lr).PeriodSteps(steps).Done()
			}
			return []*graph.Node{m.ForwardWithSide(ctx, inputs[0], inputs[1:], nn.Config{Training: true, Frozen: frozen}).Output}
		}
		return []*graph.Node{m.ForwardWithSide(ctx, inputs[0], inputs[1:], nn.Config{Plain: true}).Output}
	}
	res := &Result{Accuracy: math.NaN()}
	err := catch.Panic(func() error {
		trainer := gomlxtrain.NewTrainer(m.Backend(), ctx, modelFn, loss, opt, trainMetrics, nil)
		loop := gomlxtrain.NewLoop(trainer)
		var bar *progressbar.ProgressBar
		if opts.Progress != nil {
			bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(opts.Progress),
				progressbar.OptionSetDescription("training "+m.Name), progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(0))
		}
		loop.OnStep("progress", 0, func(_ *gomlxtrain.Loop, ms []*tensors.Tensor) error {
			res.Steps++
			res.Loss = scalar(ms[2])
			desc := fmt.Sprintf("training %s: loss %.4f", m.Name, res.Loss)
			if classify {
				res.Accuracy = scalar(ms[3])
				desc += fmt.Sprintf(" accuracy %.3f", res.Accuracy)
			}
			if bar != nil {
				bar.Describe(desc)
				return bar.Add(1)
			}
			return nil
		})
		_, err := loop.RunEpochs(ds, opts.Epochs)
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(opts.Progress)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("training %s: %w", m.Name, err)
	}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return res, fmt.Errorf("training %s diverged (loss %g): lower the learning rate", m.Name, res.Loss)
	}
	return res, nil
}

// stepLoss is the mean cross-entropy of the labelled steps: predictions [B, steps*classes],
// labels [B, steps] with -1 where a step has none.
func stepLoss(steps int) gomlxtrain.LossFn {
	return func(labels, predictions []*graph.Node) *graph.Node {
		p, y := predictions[0], labels[0]
		b := p.Shape().Dimensions[0]
		logp := graph.LogSoftmax(graph.Reshape(p, b, steps, -1), -1) // [B, T, V]
		has := graph.GreaterOrEqual(y, graph.ScalarZero(y.Graph(), y.DType()))
		idx := graph.ConvertDType(graph.Max(y, graph.ScalarZero(y.Graph(), y.DType())), dtypes.Int32)
		picked := graph.ReduceSum(graph.Mul(logp, graph.OneHot(idx, logp.Shape().Dimensions[2], p.DType())), -1) // [B, T]
		mask := graph.ConvertDType(has, p.DType())
		return graph.Div(graph.Neg(graph.ReduceAllSum(graph.Mul(picked, mask))), graph.Max(graph.ReduceAllSum(mask), graph.OnePlus(graph.ScalarZero(p.Graph(), p.DType()))))
	}
}

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// checkSet validates a dataset against a model: shapes, label range, kind of head.
func checkSet(m *models.Model, set *data.Set, stepLabels string) error {
	if set == nil {
		return fmt.Errorf("no dataset")
	}
	if err := set.Check(); err != nil {
		return err
	}
	if len(set.Shape) != len(m.Input) || set.Shape[0] != m.Input[0] {
		return fmt.Errorf("dataset %q has examples of shape %v; %s takes %v", set.Name, set.Shape, m.Name, m.Input)
	}
	for _, in := range m.Side {
		i := slices.IndexFunc(set.Side, func(d data.SideData) bool { return d.Name == in.Name })
		if i < 0 || !slices.Equal(set.Side[i].Shape, in.Shape) {
			return fmt.Errorf("dataset %q lacks %s's side input %q of shape %v", set.Name, m.Name, in.Name, in.Shape)
		}
	}
	if stepLabels != "" {
		return nil
	}
	if set.Labels == nil && set.Targets == nil {
		return fmt.Errorf("dataset %q has neither labels nor targets: training and evaluating need one per example", set.Name)
	}
	if set.Labels != nil {
		for _, l := range set.Labels {
			if int(l) >= m.Outputs || l < 0 {
				return fmt.Errorf("dataset %q has label %d but %s has %d outputs: give the network one output per class",
					set.Name, l, m.Name, m.Outputs)
			}
		}
	} else if m.Outputs != 1 {
		return fmt.Errorf("dataset %q is a regression set (one target per example) but %s has %d outputs, not 1",
			set.Name, m.Name, m.Outputs)
	}
	return nil
}

// batches feeds a Set to GoMLX's loop, in a new seeded order each epoch (the last batch may be
// smaller, as PyTorch's DataLoader without drop_last).
type batches struct {
	model      *models.Model
	stepLabels string // the side input that holds the labels (Options.StepLabels), or ""

	set   *data.Set
	size  int
	seed  uint64
	epoch uint64
	order []int
	next  int
}

func (b *batches) Name() string { return b.set.Name }

// side is the batch's side inputs in the model's Side order.
func (b *batches) side(idx []int) ([]*tensors.Tensor, error) { return sideOf(b.model, b.set, idx) }

// sideOf returns the side inputs of the examples at idx, in m's Side order.
func sideOf(m *models.Model, set *data.Set, idx []int) ([]*tensors.Tensor, error) {
	names := make([]string, len(m.Side))
	for i, in := range m.Side {
		names[i] = in.Name
	}
	return set.SideBatch(idx, names...)
}

func (b *batches) perEpoch() int { return (b.set.Len() + b.size - 1) / b.size }

// Reset starts the next epoch.
func (b *batches) Reset() {
	b.epoch++
	b.order, b.next = nil, 0
}

func (b *batches) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	if b.order == nil {
		n := b.set.Len()
		b.order = make([]int, n)
		for i := range b.order {
			b.order[i] = i
		}
		if b.seed != 0 {
			rand.New(rand.NewPCG(b.seed, b.epoch)).Shuffle(n, func(i, j int) { b.order[i], b.order[j] = b.order[j], b.order[i] })
		}
	}
	if b.next >= len(b.order) {
		return nil, nil, nil, io.EOF
	}
	idx := b.order[b.next:min(b.next+b.size, len(b.order))]
	b.next += len(idx)
	x, y := b.set.Batch(idx)
	if b.stepLabels != "" {
		labels, err := b.set.SideBatch(idx, b.stepLabels)
		if err != nil {
			return nil, nil, nil, err
		}
		y = labels[0]
	}
	side, err := b.side(idx)
	if err != nil {
		return nil, nil, nil, err
	}
	return nil, append([]*tensors.Tensor{x}, side...), []*tensors.Tensor{y}, nil
}

// Evaluate runs the model over a set in batches and returns its mean loss and accuracy
// (cross-entropy for labelled sets; mean squared error and NaN accuracy for regression).
func Evaluate(m *models.Model, set *data.Set, batchSize int) (loss, accuracy float64, err error) {
	if err := checkSet(m, set, ""); err != nil {
		return 0, 0, err
	}
	if batchSize < 1 {
		batchSize = 256
	}
	var sumLoss float64
	correct := 0
	n := set.Len()
	for start := 0; start < n; start += batchSize {
		idx := make([]int, 0, batchSize)
		for i := start; i < min(start+batchSize, n); i++ {
			idx = append(idx, i)
		}
		x, _ := set.Batch(idx)
		side, err := sideOf(m, set, idx)
		if err != nil {
			x.FinalizeAll()
			return 0, 0, err
		}
		out, err := m.Logits(x, side...)
		x.FinalizeAll()
		for _, t := range side {
			t.FinalizeAll()
		}
		if err != nil {
			return 0, 0, err
		}
		for j, i := range idx {
			row := out[j]
			if set.Labels == nil {
				d := float64(row[0]) - float64(set.Targets[i])
				sumLoss += d * d
				continue
			}
			ranked := models.TopK(row, nil, len(row)) // best first, with softmax probabilities
			if ranked[0].Class == int(set.Labels[i]) {
				correct++
			}
			for _, q := range ranked {
				if q.Class == int(set.Labels[i]) {
					sumLoss -= math.Log(max(q.Probability, 1e-45))
				}
			}
		}
	}
	if set.Labels == nil {
		return sumLoss / float64(n), math.NaN(), nil
	}
	return sumLoss / float64(n), float64(correct) / float64(n), nil
}
