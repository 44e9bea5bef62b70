#!/usr/bin/python3
"""Writes the notebooks' sources (no outputs). Execute them afterwards to fill in the outputs:
    /usr/bin/python3 notebooks/build.py && notebooks/run.sh
Each notebook is a list of ("md" | "go", text) cells.
"""
import os

import nbformat as nbf

SETUP = [
    ("go", "!*go mod edit -replace github.com/gradcam-go/gradcam=${GONB_DIR}/.. "
           "-require github.com/gradcam-go/gradcam@v0.0.0-00010101000000-000000000000"),
    ("go", '''import (
	"cmp"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/notebook"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/embedded"
)

// model is the model to explain: $GRADCAM_MODEL, by default the paper's VGG-16, or, on a
// machine that cannot download it, the MobileNetV2 embedded in the toolkit (the line it prints
// says which).
func model() *models.Model {
	m := notebook.Load("")
	if m == nil {
		panic("no model: see the error above")
	}
	return m
}

// load returns the model input and the 224x224 picture of test images ($GRADCAM_IMAGES, by
// default ../shared/images beside the repository).
func load(names ...string) (*tensors.Tensor, []*image.RGBA) {
	dir := cmp.Or(os.Getenv("GRADCAM_IMAGES"), filepath.Join(os.Getenv("GONB_DIR"), "..", "..", "shared", "images"))
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	x, imgs, err := models.Preprocess(models.Stretch, paths...)
	must(0, err)
	return x, imgs
}

// must stops the cell on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}'''),
]

NOTEBOOKS = {}

# MUST ends the import cell of the notebooks that train or load their own models.
MUST = """// must stops the cell on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}"""

# START is the first two cells of the notebooks written with the toolkit's own short API: the
# module replacement GoNB needs, and the imports.
def START(*imports):
    return [
        ("go", "!*go mod edit -replace github.com/gradcam-go/gradcam=${GONB_DIR}/.. "
               "-require github.com/gradcam-go/gradcam@v0.0.0-00010101000000-000000000000"),
        ("go", "import (\n" + "".join('\t"%s"\n' % i for i in imports) + ")"),
    ]


NOTEBOOKS["01_gradcam_figure1.ipynb"] = [
    ("md", """# Grad-CAM, Figures 1 and 3: what makes it a cat, what makes it a dog

Selvaraju et al. open the Grad-CAM paper with one image holding a dog and a cat, and ask the
network *where* it sees each class. This notebook redraws that figure, and the paper's Figure 3
(counterfactual explanations), with the real ImageNet **SqueezeNet 1.0** of `../shared/weights`:
plain convolutions, ReLUs and max pooling, as in the paper's VGG-16 and AlexNet, so that guided
backpropagation draws clean edges. **MobileNetV2** is the second network, where the paper shows
ResNet.

Under each figure the claim is measured: the share of each map's mass inside each animal's box
(boxes annotated by hand in `docs/boxes/`). `paper/paper_test.go` asserts the same numbers."""),
    *START("fmt", "github.com/gradcam-go/gradcam/gradcam", "github.com/gradcam-go/gradcam/notebook"),
    ("md", "What does SqueezeNet see in the picture? Its five most probable classes:"),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
notebook.Top(m, notebook.Images(m, "cat_dog.png"), 5)"""),
    ("md", """## Figure 1

One row per class: the input, **guided backpropagation** (fine detail, not class-discriminative),
**Grad-CAM** (coarse, class-discriminative), **Guided Grad-CAM** (their product: fine *and*
discriminative) and **occlusion** (the score's drop when a grey patch hides each region: a check
without gradients). Tiger cat first, then the dog as bull mastiff (SqueezeNet's answer, p = 0.89)
and as boxer (the paper's)."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
methods := []gradcam.Method{gradcam.GuidedBackprop, gradcam.GradCAM, gradcam.GuidedGradCAM, gradcam.Occlusion}
res := notebook.Explain(m, b, gradcam.Request{Methods: methods, Classes: []int{282, 243, 242}})
notebook.BoxMass(res, gradcam.GradCAM, notebook.Objects(m, "cat_dog.png"))
notebook.BoxMass(res, gradcam.GuidedGradCAM, notebook.Objects(m, "cat_dog.png"))"""),
    ("md", """**What to notice.** Guided backpropagation draws both animals in every row: it does not
depend on the class. Grad-CAM puts most of its mass on the cat for *tiger cat* and on the dog for
*bull mastiff* and *boxer* (the two boxes overlap where the cat lies in front of the dog, so part
of the tiger cat's mass counts in both). Guided Grad-CAM keeps only the fine detail inside
Grad-CAM's region: the cat's stripes, the dog's face. Occlusion, computed without gradients,
agrees on where the evidence is.

Panels (f) and (l), the second network: MobileNetV2's Grad-CAM of the same classes."""),
    ("go", """%%
m := notebook.Load("mobilenet_v2")
res := notebook.Explain(m, notebook.Images(m, "cat_dog.png"), gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{282, 243}})
notebook.BoxMass(res, gradcam.GradCAM, notebook.Objects(m, "cat_dog.png"))"""),
    ("md", """MobileNetV2 finds the same two animals, with coarser maps (its last block is 7x7,
SqueezeNet's 13x13). Its guided backpropagation is a faint checkerboard (notebook 04), which is
why the classic gradient figures use SqueezeNet here.

The paper's own networks, VGG-16 and AlexNet, get the same rows wherever their ImageNet weights
are on the machine (`$GRADCAM_WEIGHTS` or the download cache); nothing is downloaded here."""),
    ("go", """%%
for _, name := range []string{"vgg16", "alexnet"} {
	if !notebook.Available(name) {
		fmt.Printf("%s: its ImageNet weights are not on this machine (put them in $GRADCAM_WEIGHTS to add its rows)\\n", name)
		continue
	}
	m := notebook.Load(name)
	methods := []gradcam.Method{gradcam.GuidedBackprop, gradcam.GradCAM, gradcam.GuidedGradCAM}
	res := notebook.Explain(m, notebook.Images(m, "cat_dog.png"), gradcam.Request{Methods: methods, Classes: []int{282, 243}})
	notebook.BoxMass(res, gradcam.GradCAM, notebook.Objects(m, "cat_dog.png"))
}"""),
    ("md", """## Figure 3: counterfactual explanations

Negating the gradients shows the regions that speak *against* a class: removing them would make
the network more confident in it. For *bull mastiff* they should be the cat."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
res := notebook.Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.Counterfactual}, Classes: []int{243, 282}})
notebook.BoxMass(res, gradcam.Counterfactual, notebook.Objects(m, "cat_dog.png"))"""),
    ("md", """**What to notice.** The counterfactual map of *bull mastiff* lights up the cat: about half of
its mass is in the cat's box and a sixth in the dog's, as in the paper. The counterfactual of
*tiger cat* is sparse and mostly on the background, not on the dog: SqueezeNet's evidence against
the cat is weak.

## The King Snake, Bull Mastiff and Tiger Cat figures

The practice report's figures (Grad-CAM, guided backpropagation, Guided Grad-CAM), with SqueezeNet
and MobileNetV2 side by side."""),
    ("go", """%%
for _, name := range []string{"squeezenet1_0", "mobilenet_v2"} {
	m := notebook.Load(name)
	b := notebook.Images(m, "snake.png", "cat_dog.png", "cat_dog.png")
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.GuidedBackprop, gradcam.GuidedGradCAM}
	res := notebook.Explain(m, b, gradcam.Request{Methods: methods, ImageClasses: []int{56, 243, 282}})
	notebook.BoxMass(res[:1], gradcam.GradCAM, notebook.Objects(m, "snake.png"))
}"""),
    ("md", """**What to notice.** Both networks put the king snake's evidence on the snake's banded body
(nearly all of the map's mass in its box), and SqueezeNet's guided images show the bands
themselves. Where the maps of the two networks differ, the class is the same but the layer
resolution and the features are not: a map explains one network, not the class in general.

## Exercises

1. Explain *tabby* (281) and *Egyptian cat* (285): do the maps move?
2. Change the layer (`Layers: []string{"features.7"}`): what does an earlier layer add?
3. Which class's counterfactual marks the dog? Try the other dog breeds (242, 254)."""),
]

NOTEBOOKS["02_cam_vs_gradcam.ipynb"] = [
    ("md", r"""# CAM and Grad-CAM: the same map where CAM applies, and Grad-CAM everywhere

**CAM** (Zhou et al. 2016) needs a network that ends in global average pooling (GAP) followed by
one linear layer. With $A^k$ the $k$-th feature map of the last convolutional layer and $w^c_k$
the classifier's weight from channel $k$ to class $c$,

$$y^c = \sum_k w^c_k \, \frac{1}{Z}\sum_{i,j} A^k_{ij} \qquad\Rightarrow\qquad M^c_{\rm CAM} = \sum_k w^c_k A^k .$$

**Grad-CAM** (Selvaraju et al. 2017) replaces the weights by the spatial mean of the gradients,
$\alpha^c_k = \frac{1}{Z}\sum_{i,j} \partial y^c / \partial A^k_{ij}$, and keeps the positive part:
$M^c_{\rm Grad\text{-}CAM} = \mathrm{ReLU}(\sum_k \alpha^c_k A^k)$. For a GAP + linear network,
$\partial y^c/\partial A^k_{ij} = w^c_k / Z$, so $\alpha^c_k = w^c_k/Z$: the two maps are equal up
to a constant, and identical after normalization. Grad-CAM needs no particular architecture."""),
    *SETUP,
    ("md", """A GAP model: the notebook's model if it is one, otherwise ResNet-50. CAM and Grad-CAM side by
side for the top class and for *tiger cat*, with the correlation of the two normalized maps."""),
    ("go", """import "math"

// gapModel is the notebook's model if CAM applies to it, else ResNet-50 (offline: the embedded
// MobileNetV2).
func gapModel() *models.Model {
	if m := model(); m.CheckCAM() == nil {
		return m
	}
	if m, err := models.Load("resnet50"); err == nil {
		return m
	}
	return must(embedded.Model(nil)) // offline: the embedded MobileNetV2 ends in GAP + linear
}

// pearson is the correlation of two maps.
func pearson(a, b []float32) float64 {
	var ma, mb, sab, saa, sbb float64
	for i := range a {
		ma += float64(a[i]) / float64(len(a))
		mb += float64(b[i]) / float64(len(b))
	}
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab, saa, sbb = sab+da*db, saa+da*da, sbb+db*db
	}
	return sab / (math.Sqrt(saa*sbb) + 1e-30)
}

%%
m := gapModel()
x, imgs := load("cat_dog.png")
exps := must(gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Classes: []int{-1, 282}}))
for _, ex := range exps {
	must(0, notebook.Figures(must(notebook.ExplanationFigures(imgs[0], ex, notebook.Style{}, gradcam.CAM, gradcam.GradCAM))...))
	fmt.Printf("%s, class %d %s: correlation of CAM and Grad-CAM = %.6f\\n", m.Name, ex.Class, ex.Label,
		pearson(ex.Maps[gradcam.CAM].Values, ex.Maps[gradcam.GradCAM].Values))
}"""),
    ("md", """**What to notice.** The pictures are indistinguishable and the correlation is 1 to float
precision: at the last convolutional layer of a GAP network, Grad-CAM *is* CAM.

## VGG-16: no CAM, but Grad-CAM

VGG-16 ends in three fully connected layers, so there is no $w^c_k$ per feature map and CAM is
undefined (Zhou et al. had to change the architecture and retrain). The toolkit says so:"""),
    ("go", """%%
fmt.Println(must(models.LookupArch("vgg16")).CheckCAM())"""),
    ("md", "Grad-CAM only needs gradients, so it explains the notebook's model whatever its head:"),
    ("go", """%%
m := model()
x, imgs := load("cat_dog.png")
ex := must(gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{282}}))[0]
must(0, notebook.Explanation(imgs[0], ex, gradcam.GradCAM))"""),
    ("md", "**What to notice.** The map for *tiger cat* covers the cat, with no change to the network."),
]

NOTEBOOKS["03_gradcam_layers_and_classes.ipynb"] = [
    ("md", """# Grad-CAM by layer, and how it tells classes apart

Grad-CAM can explain any convolutional layer, not only the last. Early layers have high
resolution but little semantics; late layers are coarse but know about objects. The first figure
shows Grad-CAM for the top class at five depths of `$GRADCAM_MODEL`; the second explains several
images at the default (last) layer."""),
    *SETUP,
    ("go", """// depths picks n top-level layers (no sub-module paths) spread from early to the default layer.
func depths(m *models.Model, n int) []string {
	var top []string
	for _, l := range m.ExplainableLayers() {
		if l == m.DefaultLayer() || isTopLevel(l) {
			top = append(top, l)
		}
		if l == m.DefaultLayer() {
			break
		}
	}
	var out []string
	for i := range n {
		out = append(out, top[(len(top)-1)*(i+1)/n])
	}
	return out
}

// isTopLevel: "features.7" or "layer3", not "features.7.conv.0".
func isTopLevel(l string) bool {
	dots := 0
	for _, c := range l {
		if c == '.' {
			dots++
		}
	}
	return dots <= 1 && l != "conv1" && l != "bn1" && l != "relu" && l != "maxpool"
}

%%
m := model()
x, imgs := load("cat_dog.png")
e := gradcam.New(m)
var figs []notebook.Figure
for _, layer := range depths(m, 5) {
	ex := must(e.Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Layers: []string{layer}}))[0]
	mp := ex.Maps[gradcam.GradCAM]
	figs = append(figs, notebook.Figure{Image: must(render.Picture(mp.Values, mp.Shape, imgs[0], render.Jet, 0.5)),
		Caption: fmt.Sprintf("%s (%dx%d): %s", layer, mp.LowResShape[0], mp.LowResShape[1], ex.Label)})
}
must(0, notebook.Figures(figs...))"""),
    ("md", """**What to notice.** Early layers respond to edges and texture all over the image; the map
concentrates on the object only in the last blocks, where the features are about classes.

## Several images, one call

The images go through the network as one batch; each is explained for its own top class."""),
    ("go", """%%
m := model()
names := []string{"cat_dog.png", "snake.png", "spider.png", "egyptian_cat.png"}
x, imgs := load(names...)
exps := must(gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.GuidedGradCAM}}))
grid := &render.Grid{Title: "Top class of each image, " + m.Name}
for i, ex := range exps {
	figs := must(notebook.ExplanationFigures(imgs[i], ex, notebook.Style{}, gradcam.GradCAM, gradcam.GuidedGradCAM))
	row := []render.Cell{}
	for _, f := range figs {
		row = append(row, render.Cell{Image: f.Image, Caption: f.Caption})
	}
	grid.Rows = append(grid.Rows, row)
}
must(0, notebook.Grid(grid))"""),
    ("md", """**What to notice.** Each map sits on the object its class names: the snake's body, the
spider, the cat. Where the top class is wrong, the map shows what misled the
network."""),
]

NOTEBOOKS["04_cnn_visualization_lab.ipynb"] = [
    ("md", """# Lab: looking inside a CNN

A hands-on tour in the spirit of the classic "visualizing CNNs" lecture: first-layer filters,
activation maps, three ways to backpropagate to the pixels, and occlusion. Each section ends with
questions to answer in a sentence or two; change the code and run it again to find out.

The network is the real ImageNet SqueezeNet 1.0 of `../shared/weights`: plain convolutions,
ReLUs and max pooling, as AlexNet and VGG (the lecture's networks), so its gradient images show
what the lecture shows. Replace `"squeezenet1_0"` by `"mobilenet_v2"` to see how a network with
depthwise convolutions and batch norms differs."""),
    *SETUP,
    ("md", """## 1. First-layer filters

The first convolution sees pixels directly, so its weights can be drawn as small RGB images
(each normalized to its own range)."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
first := m.Params[0].Key
w := must(m.Param(first))
fmt.Println("first-layer kernel:", first, w.Shape)
must(0, notebook.Figures(notebook.Figure{Image: must(render.FilterMosaic(w.Data, w.Shape, 32, 8, 48)), Caption: "the first 32 filters"}))"""),
    ("md", """**Questions.** Which filters detect oriented edges, and which respond to a colour? Why do
first-layer filters of very different networks look alike?

## 2. Activation maps

The outputs of the first block for its eight most active channels (gray: minimum black, maximum
white)."""),
    ("go", """import "sort"

// firstBlock is the output of the first block: "relu" for ResNets, "features.1" otherwise.
func firstBlock(m *models.Model) string {
	for _, l := range m.ExplainableLayers() {
		if l == "relu" {
			return l
		}
	}
	return "features.1"
}

%%
m := notebook.Load("squeezenet1_0")
x, _ := load("cat_dog.png")
layer := firstBlock(m)
a := must(m.Activations(x, layer))[layer]
c, h, w := a.Shape[1], a.Shape[2], a.Shape[3]
// The 8 most active channels.
mean := make([]float32, c)
order := make([]int, c)
for ch := range c {
	order[ch] = ch
	for _, v := range a.Data[ch*h*w : (ch+1)*h*w] {
		mean[ch] += v / float32(h*w)
	}
}
sort.Slice(order, func(i, j int) bool { return mean[order[i]] > mean[order[j]] })
var figs []notebook.Figure
for _, ch := range order[:8] {
	img := must(render.Heatmap(render.Normalize(a.Data[ch*h*w:(ch+1)*h*w]), w, h, render.Gray))
	figs = append(figs, notebook.Figure{Image: img, Caption: fmt.Sprintf("%s channel %d", layer, ch)})
}
must(0, notebook.Figures(figs...))"""),
    ("md", """**Questions.** Which channels respond to the animals' outlines, which to flat regions? What
would you expect in a channel of the last block?

## 3. Vanilla gradient, deconvnet, guided backpropagation

The three differ only in how a ReLU passes the gradient back: the true gradient masks by the
forward activation, the deconvnet by the sign of the gradient, guided backpropagation by both."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
x, imgs := load("cat_dog.png")
ex := must(gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.Saliency, gradcam.Deconvnet, gradcam.GuidedBackprop}}))[0]
must(0, notebook.Explanation(imgs[0], ex, gradcam.Saliency, gradcam.Deconvnet, gradcam.GuidedBackprop))"""),
    ("md", """**Questions.** Which of the three images is the sharpest, and why does masking by *both*
signs remove the noise? The deconvnet image is nothing like the others: on SqueezeNet two
isolated blobs, on MobileNetV2 a regular stripe pattern (the rule is tested against Captum's):
the sign-only rule ignores which units were active, so what is left to shape the image? Look at
the strides and the pooling of the network. Explain the top class and then the cat (class 282) with guided
backpropagation: do the pictures change? What does that say about class discrimination?

## 4. Occlusion

Slide a grey patch over the image and record how much the class score drops."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
x, imgs := load("cat_dog.png")
occ := gradcam.OcclusionOptions{Patch: 48, Stride: 24, BatchSize: 16}
ex := must(gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.Occlusion, gradcam.GradCAM}, Occlusion: occ}))[0]
must(0, notebook.Explanation(imgs[0], ex, gradcam.Occlusion, gradcam.GradCAM))"""),
    ("md", """**Questions.** Where do occlusion and Grad-CAM agree? Halve the patch size: what gets
sharper, and what does it cost in forward passes? Why can occlusion never be fooled by saturated
gradients?"""),
]

NOTEBOOKS["05_your_own_network.ipynb"] = [
    ("md", """# Your own network: define it, train it, and see why CAM needs global average pooling

CAM (Zhou et al. 2016) explains a class with the weights of the linear layer that follows global
average pooling (GAP), so it only applies to networks that end that way; the paper had to
remove VGG's fully connected layers, add GAP and retrain. Grad-CAM needs only gradients.

This notebook does the experiment end to end in Go: it defines two small CNNs with the same
convolutional trunk, one ending in **GAP + linear**, one in **fully connected layers**, trains both
on Fashion-MNIST (Debian's `dataset-fashion-mnist`) with GoMLX's trainer, and explains them. At
the end, a network trained in PyTorch arrives as an ONNX file and is explained beside them."""),
    SETUP[0],
    ("go", """import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/notebook"
	"github.com/gradcam-go/gradcam/train"
)

""" + MUST),
    ("md", """## The networks

Three blocks of 3x3 convolution, batch norm and ReLU (with 2x2 max pooling between them) turn a
28x28 item into 64 feature maps of 7x7. Then either head. Every block is named by a module path,
as in PyTorch: those names are the parameters' names in the checkpoint and the layers we can
explain."""),
    ("go", """// fashionNet is the trunk with a "gap" or an "fc" head.
func fashionNet(head string) *nn.Network {
	labels := data.FashionMNISTClasses
	return &nn.Network{Name: "fashion-" + head, Input: []int{1, 28, 28}, Labels: labels,
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
			for i, width := range []int{16, 32, 64} {
				p := fmt.Sprint("block", i+1)
				x = b.Conv2D(p+".conv", x, nn.Conv{Out: width, Kernel: 3, Padding: 1, NoBias: true})
				x = b.ReLU(p+".relu", b.BatchNorm(p+".bn", x))
				if i < 2 {
					x = b.MaxPool2D(p+".pool", x, nn.Pool{Kernel: 2})
				}
			}
			if head == "gap" {
				return b.Linear("fc", b.GlobalAvgPool("gap", x), len(labels))
			}
			x = b.ReLU("fc1.relu", b.Linear("fc1", b.Flatten("flatten", x), 128))
			return b.Linear("fc2", x, len(labels))
		}}
}

// checkpoint is where a trained network is kept between cells (each cell is a new process).
func checkpoint(head string) string {
	return filepath.Join(os.TempDir(), "gradcam-fashion-"+head+".safetensors")
}"""),
    ("md", """## Training

Each network trains for two epochs on 10,000 training items (Adam, cosine learning rate), about a
minute each on two cores, and is evaluated on 2,000 test items."""),
    ("go", """%%
trainSet := must(data.FashionMNIST("train")).Head(10000)
testSet := must(data.FashionMNIST("test")).Head(2000)
for _, head := range []string{"gap", "fc"} {
	m := must(models.New(fashionNet(head), 1, nil))
	must(train.Fit(m, trainSet, train.Options{Epochs: 2, BatchSize: 64, LearningRate: 3e-3, Cosine: true, Seed: 1}))
	_, acc := must2(train.Evaluate(m, testSet, 500))
	fmt.Printf("%s: test accuracy %.3f\\n", m.Name, acc)
	must(0, m.Save(checkpoint(head)))
}"""),
    ("md", """The fully connected head learns faster here: its 3,136 inputs keep where each feature is,
which averaging throws away. The CAM paper reports the same trade-off (its GAP networks lose a
little classification accuracy and gain localization). What the head decides for sure is which
explanations apply.

## CAM and Grad-CAM on the GAP network

The toolkit finds CAM's head by itself (GAP followed by one linear layer). On this network CAM
and Grad-CAM at the last block are the same map."""),
    ("go", """%%
items := notebook.FromSet(must(data.FashionMNIST("test")), 0, 1, 2)
gap := must(models.LoadNetwork(fashionNet("gap"), checkpoint("gap"), nil))
notebook.Explain(gap, items, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}}, notebook.Style{Zoom: 5})"""),
    ("md", """## The fully connected network: no CAM, but Grad-CAM

Asking for CAM on the fully connected network is refused, with the reason (the error is shown
in the cell); Grad-CAM explains it all the same."""),
    ("go", """%%
items := notebook.FromSet(must(data.FashionMNIST("test")), 0, 1, 2)
fc := must(models.LoadNetwork(fashionNet("fc"), checkpoint("fc"), nil))
notebook.Explain(fc, items, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM}})
notebook.Explain(fc, items, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.GuidedGradCAM}}, notebook.Style{Zoom: 5})"""),
    ("md", """**What to notice.** The GAP network's CAM and Grad-CAM are identical. The fully connected
network has no CAM at all, yet Grad-CAM explains it without changing (and retraining) the
architecture: the Grad-CAM paper's point. Its maps are not the GAP network's, though: in this
run, its ankle boot map lights up the background at the image's left edge. Fully connected
layers can use evidence tied to positions, and GAP networks are pushed to localize: the trade-off
the CAM paper describes (a better localizer, a slightly worse classifier).

**Exercises.** Explain an earlier layer (`Layers: []string{"block2.relu"}`): what changes? Train the GAP
network for one epoch only: do the maps get worse before the accuracy does?"""),
]

NOTEBOOKS["05_your_own_network.ipynb"] += [
    ("md", """## A network from PyTorch, through ONNX

Most trained models were not written with this toolkit. ONNX is how a model leaves PyTorch (or
Keras, with tf2onnx), and `models.LoadONNX` reads it: the graph is rebuilt from the toolkit's own
blocks, so every explanation method works on it, its layers are its ONNX node names, guided
backprop's rule applies to its ReLUs, and CAM is found when it ends in global average pooling and
one linear layer.

This one is an architecture the toolkit has no definition for: a small EfficientNet-style CNN
(SiLU activations, depthwise convolutions, squeeze-and-excitation) trained on Fashion-MNIST in
PyTorch and exported with `torch.onnx.export`. It ships beside the notebook (`data/`, 90 KB); to
make it again (Debian's `python3-torch`, a few minutes) run
`!/usr/bin/python3 data/fashion_effnet.py data/fashion_effnet.onnx` in a cell. Loading it prints
its number of layers (node outputs) and where CAM applies; the labels come from
`fashion_effnet.labels.txt` beside it."""),
    ("go", """%%
onnxNet := notebook.LoadONNX("data/fashion_effnet.onnx")
_, acc := must2(train.Evaluate(onnxNet, must(data.FashionMNIST("test")).Head(2000), 500))
fmt.Printf("test accuracy %.3f; its first layers: %v\\n", acc, onnxNet.ExplainableLayers()[:3])"""),
    ("md", """Side by side on the same items: CAM and Grad-CAM of the PyTorch model (top), then of the
GAP network trained above in Go (bottom)."""),
    ("go", """%%
items := notebook.FromSet(must(data.FashionMNIST("test")), 0, 1, 2)
req := gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}}
notebook.Explain(notebook.LoadONNX("data/fashion_effnet.onnx"), items, req, notebook.Style{Zoom: 5})
notebook.Explain(must(models.LoadNetwork(fashionNet("gap"), checkpoint("gap"), nil)), items, req, notebook.Style{Zoom: 5})"""),
    ("md", """**What to notice.** Two architectures from two frameworks, trained apart on the same data,
one explainer. Where their maps agree (the garment's body, the shoe's sole), the evidence is in the
item; where they differ, so do their decisions. An op the converter does not know is refused by
name when the file is loaded, and a layer name that is not a node output gets the list of valid
ones.

**Exercise.** Export a torchvision model (`torch.onnx.export(model.eval(), x, "m.onnx",
opset_version=13)`) and explain it with `notebook.LoadONNX("m.onnx")`. Which of its layers gives the
sharpest map?"""),
]
NOTEBOOKS["06_text_gradcam.ipynb"] = [
    ("md", """# Grad-CAM on text: which characters tell a language

Grad-CAM applies to any CNN, not only to images. Here the CNN reads characters: a Kim-style
character CNN (an embedding, 1-D convolutions of widths 3, 4 and 5, max-over-time pooling, one
linear layer) that tells eight languages apart (`en de es it pt pl cs ru`). It was trained in GoMLX
on Debian's fortune files (`fortunes`, `fortunes-de`, ... : real text, offline) and ships with the
toolkit (`models/langid`; `go run ./models/langid/retrain` trains it again in a few minutes).

Each filter width has its own feature maps, of length L-2, L-3 and L-4 for a text of L characters.
Grad-CAM is computed on each, upsampled to the text and averaged: one weight per character, and
per word the mean of its characters. The text is coloured by that weight: blue is no evidence for
the class, red the most."""),
    SETUP[0],
    ("go", """import (
	"fmt"
	"sort"

	"github.com/gradcam-go/gradcam/models/langid"
	"github.com/gradcam-go/gradcam/notebook"
	"github.com/gradcam-go/gradcam/text"
	"github.com/gradcam-go/gradcam/train"
)

""" + MUST + """

// heldOut is the corpus's test split: fortunes the model never saw, cut into texts of at most
// 128 characters, 500 per language.
func heldOut() *text.Corpus {
	return must(text.LanguageID(text.FortuneDir(), langid.Length, langid.PerLanguage, langid.Seed))
}"""),
    ("md", """## The model and its accuracy

Measured here on the held-out texts."""),
    ("go", """%%
ex := must(langid.Load(nil))
c := heldOut()
_, test := must2(c.Sets(ex.Vocab))
_, acc := must2(train.Evaluate(ex.Model, test, 256))
fmt.Printf("%s, layers to explain %v: test accuracy %.3f on %d texts\\n",
	ex.Model.Name, ex.Model.ExplainableLayers(), acc, test.Len())"""),
    ("md", """## One held-out text per language

Look at what lights up: letters and letter groups that only one of the languages writes
(`ß`, `ñ`, `ł`, `ř`, Cyrillic), frequent short words (`the`, `der`, `di`, `não`), endings."""),
    ("go", """%%
ex := must(langid.Load(nil))
c := heldOut()
var texts []string
for lang := range text.Languages { // the first held-out text of each language
	for i, l := range c.TestLang {
		if int(l) == lang {
			texts = append(texts, c.Test[i])
			break
		}
	}
}
notebook.Texts(ex, -1, texts...)"""),
    ("md", """## Per word

The same explanation aggregated per word, strongest first."""),
    ("go", """%%
ex := must(langid.Load(nil))
e := notebook.Texts(ex, -1, "Wer zuletzt lacht, hat den Witz nicht eher verstanden.")[0]
words := append([]text.WordWeight(nil), e.Words...)
sort.Slice(words, func(i, j int) bool { return words[i].Weight > words[j].Weight })
for _, w := range words {
	fmt.Printf("%-12s %.2f\\n", w.Word, w.Weight)
}"""),
    ("md", """## When the model is wrong

The first held-out text the model gets wrong, explained for the language it chose and for the
right one. The map for the wrong answer shows what misled it (often a name, a loan word, or a
short text with few telling letters)."""),
    ("go", """%%
ex := must(langid.Load(nil))
c := heldOut()
for i, s := range c.Test {
	e := must(ex.Explain(s, -1, false))
	if e.Class == int(c.TestLang[i]) {
		continue
	}
	fmt.Printf("held-out text %d is %s; the model says %s (%.2f)\\n", i, text.Languages[c.TestLang[i]], e.Label, e.Probability)
	notebook.Texts(ex, e.Class, s)
	notebook.Texts(ex, int(c.TestLang[i]), s)
	break
}"""),
    ("md", """## Counterfactual: the evidence against

Counterfactual Grad-CAM negates the gradients: the characters that speak *against* a language.
Against English in a mixed sentence, the German words light up."""),
    ("go", """%%
ex := must(langid.Load(nil))
s := "I told him das ist nicht mein Problem and left."
notebook.Texts(ex, 0, s) // for English
notebook.ShowTexts(must(ex.Explain(s, 0, true))) // against English"""),
    ("md", """**Exercises.** Find a sentence that fools the model (a Spanish sentence full of English
names?) and read its map. The command line does the same: `gradcam explain-text --text "..."`,
with `--json` for the weights or `--html`."""),
]

NOTEBOOKS["07_regression_activation_maps.ipynb"] = [
    ("md", """# Regression Activation Maps: CAM for a network that outputs a number

CAM needs global average pooling followed by one linear layer, and nothing says that layer must
classify. With a single linear output, the same weighted sum of the last feature maps explains a
regression: a **Regression Activation Map** (RAM; Wang et al. 2017 graded diabetic retinopathy
this way). Grad-CAM of the output works too.

The task has a known answer: images of red and blue disks on noise, and the network must
estimate the red disks' total area (percent of the image). A network that solves it has to look
at the red disks and ignore the blue ones, so we can *measure* whether the maps are right. The
network (`models.SmallCNN`: three conv blocks, GAP, one output) was trained in GoMLX and ships
with the toolkit (`models/disks`; `go run ./models/disks/retrain` trains it again)."""),
    SETUP[0],
    ("go", """import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models/disks"
	"github.com/gradcam-go/gradcam/notebook"
	"github.com/gradcam-go/gradcam/train"
)

""" + MUST + """

// minOf and maxOf are the extremes of a slice.
func minOf(v []float32) float32 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float32) float32 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}"""),
    ("md", """## The model and its error

On 500 held-out images (another seed than training's)."""),
    ("go", """%%
m := must(disks.Load(nil))
test := must(data.GenerateDisks(500, disks.Size, disks.TestSeed))
mse, _ := must2(train.Evaluate(m, test.Set, 100))
fmt.Printf("held-out RMSE %.2f percentage points of area (targets: %.1f%% to %.1f%%)\\n", math.Sqrt(mse), minOf(test.Targets), maxOf(test.Targets))"""),
    ("md", """## RAM and Grad-CAM on held-out images

Output 0 is the estimate; its RAM is CAM with the output unit's weights."""),
    ("go", """%%
m := must(disks.Load(nil))
test := must(data.GenerateDisks(500, disks.Size, disks.TestSeed))
notebook.Explain(m, notebook.FromSet(test.Set, 0, 1, 2, 3), gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Classes: []int{0}},
	notebook.Style{Zoom: 4})"""),
    ("md", """## Measured: how much of each map is on the red disks

The share of each map's mass inside the red disks and inside the blue ones, averaged over 100
held-out images, against the red disks' share of the image."""),
    ("go", """%%
m := must(disks.Load(nil))
const n = 100
test := must(data.GenerateDisks(n, disks.Size, disks.TestSeed))
x := tensors.FromFlatDataAndDimensions(test.Inputs, n, 3, disks.Size, disks.Size)
res := must(gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Classes: []int{0}}))
area := 0.0
for i := range n {
	area += float64(test.Targets[i]) / 100 / n
}
for _, method := range []gradcam.Method{gradcam.CAM, gradcam.GradCAM} {
	red, blue := 0.0, 0.0
	for i := range n {
		r, b := must2(test.Share(i, res.At(i, 0).Maps[method].Values))
		red, blue = red+r/n, blue+b/n
	}
	fmt.Printf("%-8s %4.1f%% of the mass on red disks, %4.1f%% on blue ones (red disks cover %.1f%% of an image)\\n", method, 100*red, 100*blue, 100*area)
}"""),
    ("md", """## Where the model is most wrong

The held-out image with the largest error. Compare the map with the disks: a red disk half
hidden under a blue one, or one cut by the border, is where the estimate goes astray."""),
    ("go", """%%
m := must(disks.Load(nil))
test := must(data.GenerateDisks(500, disks.Size, disks.TestSeed))
x := tensors.FromFlatDataAndDimensions(test.Inputs, 500, 3, disks.Size, disks.Size)
out := must(m.Logits(x))
worst := 0
for i := range out {
	if math.Abs(float64(out[i][0]-test.Targets[i])) > math.Abs(float64(out[worst][0]-test.Targets[worst])) {
		worst = i
	}
}
fmt.Printf("image %d: red area %.1f%%, estimated %.1f%%\\n", worst, test.Targets[worst], out[worst][0])
notebook.Explain(m, notebook.FromSet(test.Set, worst), gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Classes: []int{0}},
	notebook.Style{Zoom: 4})"""),
    ("md", """**What to notice.** RAM and Grad-CAM put about four times the red disks' share of the image on
them, and give the blue disks less than theirs: the network learned the colour, not "round
things". (The maps are 12x12 upsampled, so some mass spills around each disk.) RAM and Grad-CAM
are the same map here: with one linear output after GAP, Grad-CAM's weights are CAM's divided by
the number of positions. The measured shares are asserted in the test suite (`models/disks`).

**Exercise.** Explain an earlier layer (`Layers: []string{"block2.relu"}`): is the blue disks' share still
small?"""),
]

NOTEBOOKS["08_every_cam_method.ipynb"] = [
    ("md", r"""# Every CAM method on one image: what each weighs, and what it costs

pytorch-grad-cam offers some twenty methods and papers compare them side by side. Most are the
same recipe, a weighted sum over the channels $k$ of a layer's activations $A^k$, with different
weights; some look at the gradients $G^k = \partial y^c / \partial A^k$, some run the network
again instead:

| method | the map | needs |
|---|---|---|
| Grad-CAM | $\mathrm{ReLU}(\sum_k \bar G^k A^k)$, $\bar G^k$ the spatial mean | one backward |
| HiResCAM | $\mathrm{ReLU}(\sum_k G^k \odot A^k)$: no averaging, so no blur across positions | one backward |
| Grad-CAM elementwise | $\mathrm{ReLU}(\sum_k \mathrm{ReLU}(G^k \odot A^k))$ | one backward |
| Grad-CAM++ | weights from positive gradients and higher-order terms: several objects of a class count | one backward |
| XGrad-CAM | weights $\sum (G^k A^k) / \sum A^k$, chosen to satisfy two axioms | one backward |
| LayerCAM | $\sum_k \mathrm{ReLU}(G^k) \odot A^k$: good at early layers | one backward |
| FEM | weights: how often a channel is unusually high; no gradients, no class | the forward |
| Eigen-CAM | first principal component of $A$; no gradients, no class | the forward |
| Eigen-Grad-CAM | first principal component of $G \odot A$ | one backward |
| Score-CAM | weights: softmax of the scores of the image masked by each channel | one forward per channel |
| Ablation-CAM | weights: how much the score drops when a channel is zeroed | the network after the layer, per channel |
| FullGrad | input $\times$ gradient plus bias $\times$ gradient of every layer; no target layer | one backward |

Here the toolkit computes them all on the same image and says how long each took. The model is
`$GRADCAM_MODEL` (by default VGG-16; offline, the embedded MobileNetV2)."""),
    SETUP[0],
    ("go", """import (
	"fmt"
	"time"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/notebook"
)"""),
    ("md", """## One method at a time

Each call builds its own graph, so the times include compiling it (a second call on the same
`Explainer` would reuse it). The class is *tiger cat* (282)."""),
    ("go", """%%
m := notebook.Load("")
b := notebook.Images(m, "cat_dog.png")
e := gradcam.New(m)
var figs []notebook.Figure
for _, method := range []gradcam.Method{gradcam.GradCAM, gradcam.HiResCAM, gradcam.GradCAMElementWise, gradcam.GradCAMPlusPlus,
	gradcam.XGradCAM, gradcam.LayerCAM, gradcam.FEM, gradcam.EigenCAM, gradcam.EigenGradCAM, gradcam.ScoreCAM,
	gradcam.AblationCAM, gradcam.FullGrad} {
	start := time.Now()
	res, err := e.Explain(b.Input, gradcam.Request{Methods: []gradcam.Method{method}, Classes: []int{282}})
	if notebook.Error(err) {
		break
	}
	mp := res[0].Maps[method]
	pic, err := render.Picture(mp.Values, mp.Shape, b.Pictures[0], render.Jet, 0.5)
	if notebook.Error(err) {
		break
	}
	figs = append(figs, notebook.Figure{Image: pic, Caption: fmt.Sprintf("%s: %.1f s", gradcam.MethodTitles[method], time.Since(start).Seconds())})
}
notebook.Figures(figs...)"""),
    ("md", """**What to notice.** The gradient methods agree on where the cat is and differ in sharpness:
HiResCAM and the elementwise variant keep the layer's fine structure, Grad-CAM++ spreads over the
whole animal. FEM and Eigen-CAM know nothing of the class: they show what the layer finds salient
(here possibly the dog). Score-CAM pays one forward pass per channel of the layer (MobileNetV2's
last layer has 1280); Ablation-CAM starts each ablated copy from the layer's activations and runs
only the layers after it, which is why it costs little here.

## All gradient methods at once

Requested together, the gradient methods share one forward and one backward pass:"""),
    ("go", """%%
m := notebook.Load("")
b := notebook.Images(m, "cat_dog.png")
e := gradcam.New(m)
methods := []gradcam.Method{gradcam.GradCAM, gradcam.HiResCAM, gradcam.GradCAMElementWise, gradcam.GradCAMPlusPlus,
	gradcam.XGradCAM, gradcam.LayerCAM, gradcam.FEM, gradcam.EigenCAM, gradcam.EigenGradCAM}
start := time.Now()
if _, err := e.Explain(b.Input, gradcam.Request{Methods: methods, Classes: []int{282}}); !notebook.Error(err) {
	s := e.Stats()
	fmt.Printf("%d methods in one call: %.1f s, %d execution, %d backward pass\\n", len(methods), time.Since(start).Seconds(),
		s.Executions, s.Backwards)
}"""),
    ("md", """## Smoothing, and several layers

pytorch-grad-cam's options are request fields: `AugSmooth` averages the map over six flipped and
brightened copies of the image, `EigenSmooth` keeps the first principal component of the weighted
activations instead of their sum, and `Layers` averages the maps of several layers."""),
    ("go", """%%
m := notebook.Load("")
b := notebook.Images(m, "cat_dog.png")
e := gradcam.New(m)
// earlier is the last layer at twice the default layer's resolution.
var size int
for _, l := range m.Layers {
	if l.Name == m.DefaultLayer() {
		size = l.Shape[2]
	}
}
var earlier string
for _, l := range m.Layers {
	if l.Spatial() && l.Shape[2] == 2*size {
		earlier = l.Name
	}
}
var figs []notebook.Figure
for _, v := range []struct {
	name string
	req  gradcam.Request
}{
	{"Grad-CAM at " + m.DefaultLayer(), gradcam.Request{}},
	{"aug smooth", gradcam.Request{AugSmooth: true}},
	{"eigen smooth", gradcam.Request{EigenSmooth: true}},
	{"two layers: " + earlier + " + " + m.DefaultLayer(), gradcam.Request{Layers: []string{earlier, m.DefaultLayer()}}},
} {
	v.req.Methods, v.req.Classes = []gradcam.Method{gradcam.GradCAM}, []int{282}
	res, err := e.Explain(b.Input, v.req)
	if notebook.Error(err) {
		break
	}
	mp := res[0].Maps[gradcam.GradCAM]
	pic, err := render.Picture(mp.Values, mp.Shape, b.Pictures[0], render.Jet, 0.5)
	if notebook.Error(err) {
		break
	}
	figs = append(figs, notebook.Figure{Image: pic, Caption: v.name})
}
notebook.Figures(figs...)"""),
    ("md", """**What to notice.** Augmentation smooths the map's edges; the eigen projection removes the
less consistent channels' contributions; an earlier layer adds finer detail.

## Attributions of the pixels

The gradient-image methods answer another question: which *pixels* matter. SmoothGrad averages
the gradient over noisy copies of the image (5 by default, noise of one standard deviation of the
dataset's pixels), Integrated Gradients integrates it along a path from a black image, and Guided
Grad-CAM multiplies guided backpropagation with any CAM map (`GuidedCAM`; here Grad-CAM++)."""),
    ("go", """%%
m := notebook.Load("")
b := notebook.Images(m, "cat_dog.png")
notebook.Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.Saliency, gradcam.InputXGradient,
	gradcam.IntegratedGradients, gradcam.SmoothGrad, gradcam.GuidedGradCAM}, Classes: []int{282},
	GuidedCAM: gradcam.GradCAMPlusPlus, IntegratedGradients: gradcam.IntegratedGradientsOptions{Steps: 16}})"""),
    ("md", """**What to notice.** The raw gradients are noisy; SmoothGrad's average keeps the edges of the cat
that are stable under noise. `gradcam explain --method LIST` computes the same from the command
line (`gradcam methods` lists them), with `--aug-smooth`, `--eigen-smooth` and `--layer a,b`."""),
]

NOTEBOOKS["09_cam_vs_gradcam_measured.ipynb"] = [
    ("md", """# CAM vs Grad-CAM, measured

The CAM paper (Zhou et al. 2016) trades a little classification accuracy for localization: it
replaces a network's fully connected layers by global average pooling (GAP) and one linear layer,
and then a class map comes from that layer's weights. Grad-CAM (Selvaraju et al. 2017) needs no
such change. Both papers argue with numbers: localization error, the pointing game, and later
papers added faithfulness (deletion and insertion curves, Average Drop) and sanity checks.

This notebook measures them on a task with exact ground truth: **cluttered Fashion-MNIST**, each
item placed at a random spot of a 64x64 canvas among pieces of other items, its box recorded.
Two networks with the same convolutional trunk were trained on it in Go and ship with the
toolkit: `fashion-gap` (GAP + linear: CAM applies) and `fashion-fc` (two fully connected layers:
only Grad-CAM does). `gradcam train-demo` trains them again."""),
    SETUP[0],
    ("go", """import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models/fashion"
	"github.com/gradcam-go/gradcam/notebook"
)

""" + MUST + """

// boxed draws a map over the item with the true box (green) and the map's box (red: the largest
// segment above 15% of its maximum, the Grad-CAM paper's rule).
func boxed(pic *image.RGBA, mp *gradcam.Map, truth data.Box) *image.RGBA {
	img := must(render.Overlay(pic, mp.Values, render.Jet, 0.5))
	b := must(metrics.LocalizationBox(must(metrics.HeatmapOf(mp)), metrics.DefaultLocalizationThreshold))
	render.DrawBox(img, image.Rect(truth.X0, truth.Y0, truth.X1, truth.Y1), color.RGBA{0, 220, 0, 255}, 1)
	render.DrawBox(img, image.Rect(b.X0, b.Y0, b.X1, b.Y1), color.RGBA{255, 0, 0, 255}, 1)
	return img
}"""),
    ("md", """## The maps, with the boxes

Six held-out items (never trained on). For each: CAM and Grad-CAM of the GAP network, and
Grad-CAM of the fully connected one, for the class each network predicts."""),
    ("go", """%%
test := must(fashion.TestSet(6))
items := notebook.FromSet(test, 0, 1, 2, 3, 4, 5)
gap := must(fashion.Load(fashion.GAP, nil))
fc := must(fashion.Load(fashion.FC, nil))
both := must(gradcam.New(gap).Explain(items.Input, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}}))
grad := must(gradcam.New(fc).Explain(items.Input, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}}))
grid := &render.Grid{Title: "green: the item's box; red: the box of the map", CellSize: 150}
for i := range 6 {
	g, f := both.At(i, 0), grad.At(i, 0)
	grid.Rows = append(grid.Rows, []render.Cell{
		{Image: items.Pictures[i], Caption: test.Classes[test.Labels[i]]},
		{Image: boxed(items.Pictures[i], g.Maps[gradcam.CAM], test.Boxes[i]), Caption: "CAM (gap): " + g.Label},
		{Image: boxed(items.Pictures[i], g.Maps[gradcam.GradCAM], test.Boxes[i]), Caption: "Grad-CAM (gap)"},
		{Image: boxed(items.Pictures[i], f.Maps[gradcam.GradCAM], test.Boxes[i]), Caption: "Grad-CAM (fc): " + f.Label},
	})
}
must(0, notebook.Grid(grid))"""),
    ("md", """On the GAP network, CAM and Grad-CAM are the same map (Grad-CAM's weights are the
class weights divided by the map's size, the paper's section 3.1), so their boxes are the same.
The fully connected network's Grad-CAM is often tighter, hugging the item (its localization error
below is lower: 67% against 71%). Where the red box is much larger than the green one, the map
spills onto clutter of the same texture, which is why the localization errors below are high."""),
    ("md", """## The table

`docs/table1/` holds the miniature Table 1 over the first 500 held-out items, made by

    gradcam evaluate --model fashion-gap,fashion-fc --data cluttered-fashion-mnist --limit 500 \\
        --method cam,gradcam,gradcam++,xgradcam,layercam,scorecam,guided-gradcam,saliency,input-x-gradient,occlusion \\
        --metric classification-error,localization-error,pointing-game,deletion-auc,insertion-auc,average-drop,increase-in-confidence \\
        --out docs/table1

Errors and Average Drop are percentages (lower is better); the pointing game is the percentage of
maps whose maximum falls within 4.3 px of the item (TorchRay's 15 px at 224x224, scaled to 64x64);
deletion and insertion are the areas under the probability curves (lower, resp. higher, is
better)."""),
    ("go", """%%
notebook.Markdown(string(must(os.ReadFile(filepath.Join(os.Getenv("GONB_DIR"), "..", "docs", "table1", "metrics.md")))))"""),
    ("md", """What to notice:

- **CAM = Grad-CAM on the GAP network**, to the digit (71.4% localization error for both), and
  XGradCAM with them: on a GAP + linear head all three are the same map.
- **The trade-off, here reversed in size**: the GAP network classifies *better* (20.8% against
  25.4% error). The CAM paper lost 1-2 points on ImageNet by replacing VGG's dense layers; on
  items that move around a canvas, the translation invariance of GAP helps more than the dense
  layers' capacity.
- **Localization error is high for every method** (58-94%): the Grad-CAM paper's box (the largest
  segment above 15% of the map's maximum) grows onto clutter, and a wrong class counts as an
  error too. The pointing game, which needs only the maximum on the item, is near 100% for the CAM
  family: they know *where*, but their 15% segment is too wide.
- **Faithfulness tells the methods apart better than localization**: Score-CAM has the lowest
  Average Drop of the CAM family (15.9% and 14.1%) and occlusion the lowest overall, as the
  Grad-CAM++ and Score-CAM papers report; gradient images (saliency, input x gradient, Guided
  Grad-CAM) lose most of the score when used as a mask (70-85%) although they point well."""),
    ("md", """The same faithfulness metrics for an ImageNet network: the real MobileNetV2
(../shared/weights) on the five test images of ../shared/images, `docs/table1/imagenet/`."""),
    ("go", """%%
notebook.Markdown(string(must(os.ReadFile(filepath.Join(os.Getenv("GONB_DIR"), "..", "docs", "table1", "imagenet", "metrics.md")))))"""),
    ("md", """## Deletion and insertion curves

RISE's curves, averaged over 40 items: the probability of the predicted class as the pixels are
set to zero most-salient first (deletion: a faithful map makes it fall fast), or put back into a
blurred image (insertion: a faithful map makes it rise fast). Computed here, live."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
rep := must(metrics.Evaluate(metrics.NewEvaluator(gradcam.New(gap)), must(fashion.TestSet(40)), metrics.Options{
	Methods: []gradcam.Method{gradcam.CAM, gradcam.GuidedBackprop, gradcam.Saliency, gradcam.Occlusion},
	Metrics: []metrics.Metric{metrics.DeletionAUC, metrics.InsertionAUC}}))
var plots []notebook.Figure
for _, c := range []struct {
	name   string
	curves map[gradcam.Method][]float64
}{{"deletion", rep.Deletion}, {"insertion", rep.Insertion}} {
	var series []render.Series
	for _, m := range []gradcam.Method{gradcam.CAM, gradcam.GuidedBackprop, gradcam.Saliency, gradcam.Occlusion} {
		series = append(series, render.Series{Name: string(m), Y: c.curves[m]})
	}
	img := must(render.LinePlot("fashion-gap: "+c.name, "fraction of pixels", "probability", series, 420, 300))
	plots = append(plots, notebook.Figure{Image: img, Caption: c.name})
}
must(0, notebook.Figures(plots...))
var table strings.Builder
must(0, metrics.Markdown(&table, rep.Rows))
notebook.Markdown(table.String())"""),
    ("md", """Deletion falls fastest for occlusion and CAM and slowest for vanilla saliency, whose
most salient pixels are scattered edges. Insertion ranks them differently: guided backpropagation
comes first, because putting the item's sharp edges back into the blurred image restores the class
fastest. The two curves ask different questions, which is why papers report both; the table
above is the same measurement over 500 items."""),
    ("md", """## Sanity check: randomize the weights, top layer first

Adebayo et al. (2018) asked whether a map depends on what the network learned: re-initialize the
layers one at a time from the output down and watch the maps. A method that explains the network
changes as soon as the top layer is random; one that mostly shows edges of the image does not.
Left to right: the trained network, then with the layers from `fc` down to the named one
randomized. The numbers are the Spearman rank correlation with the trained network's map."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
test := must(fashion.TestSet(1))
items := notebook.FromSet(test, 0)
methods := []gradcam.Method{gradcam.GradCAM, gradcam.GuidedBackprop}
steps := must(metrics.CascadingRandomization(gap, items.Input, gradcam.Request{Methods: methods}, 1))
grid := &render.Grid{CellSize: 110}
for _, m := range methods {
	var row []render.Cell
	for _, st := range steps[m] {
		hm := st.Maps[0]
		caption := fmt.Sprintf("%s: trained", m)
		if st.Layer != "" {
			caption = fmt.Sprintf("to %s: %.2f", st.Layer, st.Spearman)
		}
		row = append(row, render.Cell{Image: must(render.Heatmap(render.Normalize(hm.Values), hm.W, hm.H, render.Jet)), Caption: caption})
	}
	grid.Rows = append(grid.Rows, row)
}
must(0, notebook.Grid(grid))"""),
    ("md", """Once the convolutional blocks are randomized, Grad-CAM's map no longer shows the item
(rank correlation 0.13 with the trained map at block3.conv, 0.18 at the end), while guided
backpropagation keeps drawing the edges of the item and the clutter down to the first layer: its
map depends on the image more than on what the network learned, Adebayo et al.'s finding. (The
numbers are for one item; randomizing only the classifier `fc` changes both maps little, since
the same features are still weighted.)"""),
]

NOTEBOOKS["10_what_a_cnn_learned.ipynb"] = [
    ("md", """# Lab, part two: what a CNN has learned

Part one (notebook 04) looked at one image going through the network. This part asks what the
network has learned across many images, as the second half of the classic "visualizing CNNs"
lecture does: **images made to excite a class or a unit** (gradient ascent), **the patches that
excite a unit most** in a dataset, and **the feature space** of the last layer, where images that
look alike to the network sit together. It uses the ImageNet model and the small network trained
in Go on cluttered Fashion-MNIST that ships with the toolkit (`fashion-gap`, notebook 09).
Each section ends with questions; change the code and run it again to find out."""),
    *SETUP,
    ("go", """import (
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/features"
	"github.com/gradcam-go/gradcam/models/fashion"
	"github.com/gradcam-go/gradcam/visualize"
)
"""),
    ("md", """## 1. Class model visualization

Simonyan et al. (2014) start from the mean image and follow the gradient of a class score with
respect to the pixels, with an L2 penalty. Left alone this finds high-frequency patterns that no
person would call a flamingo; Yosinski et al. (2015) added regularizers that keep the image
natural: jitter (shift it a few pixels at random before each step), blur every few steps, and
clearing the pixels of small norm. `visualize.DefaultAscent` uses all of them."""),
    ("go", """%%
m := model()
var figs []notebook.Figure
for _, class := range []int{130, 979} { // flamingo, valley
	opts := visualize.DefaultAscent
	opts.Steps, opts.Seed, opts.FromNoise = 40, 1, true
	a := must(visualize.GradientAscent(m, visualize.Objective{Class: class}, opts))
	p := must(m.Predict(a.Input, 1))[0][0]
	img := must(render.PixelImage(a.Pixels, 3, m.Input[1], m.Input[2]))
	figs = append(figs, notebook.Figure{Image: img, Caption: fmt.Sprintf("%s: score %.1f -> %.1f; seen as %s (%.2f)",
		m.Label(class), a.Scores[0], a.Scores[len(a.Scores)-1], p.Label, p.Probability)})
}
must(0, notebook.Figures(figs...))"""),
    ("md", """The model is all but certain of both images (0.99 and 0.90), though a person sees only
hints: pink necks and legs, curved ridges. The class score is not "how much this looks like a flamingo to a person".

**Questions.** Set `opts.Jitter`, `opts.BlurEvery` and `opts.NormPercentile` to 0: what happens
to the picture and to the final score? Why can the unregularized image score *higher* and look
*less* like the class?

## 2. The same on a small network, and a single unit

On the Fashion-MNIST network every class takes a fraction of a second. The last picture maximizes
one channel of the third block instead of a class: the pattern that unit looks for."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
opts := visualize.DefaultAscent
opts.Jitter, opts.BlurSigma, opts.NormPercentile = 2, 0.5, 0 // a 64x64 input
var figs []notebook.Figure
for class := range 10 {
	a := must(visualize.GradientAscent(gap, visualize.Objective{Class: class}, opts))
	figs = append(figs, notebook.Figure{Image: render.Zoom(must(render.PixelImage(a.Pixels, 1, 64, 64)), 2), Caption: gap.Label(class)})
}
unit := visualize.Objective{Layer: "block3.relu", Channel: 5}
a := must(visualize.GradientAscent(gap, unit, visualize.AscentOptions{Steps: 60, LearningRate: 0.02, FromNoise: true, Seed: 1}))
figs = append(figs, notebook.Figure{Image: render.Zoom(must(render.PixelImage(a.Pixels, 1, 64, 64)), 2), Caption: unit.String()})
must(0, notebook.Figures(figs...))"""),
    ("md", """**Watch it happen.** The slider below steps through the ascent of the trouser class, every
5 steps (in a live notebook; a notebook rendered without a kernel shows the last step). Stop
ends the cell."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
opts := visualize.DefaultAscent
opts.Jitter, opts.BlurSigma, opts.NormPercentile, opts.SnapshotEvery = 2, 0.5, 0, 5
a := must(visualize.GradientAscent(gap, visualize.Objective{Class: 1}, opts))
var frames []notebook.Figure
for _, s := range a.Snapshots {
	img := render.Zoom(must(render.PixelImage(s.Pixels, 1, 64, 64)), 3)
	frames = append(frames, notebook.Figure{Image: img, Caption: fmt.Sprintf("Trouser after %d steps: score %.1f", s.Step, a.Scores[s.Step])})
}
notebook.Flipbook(frames, 0)"""),
    ("md", """**Questions.** Which classes come out as the garment's shape (trousers as vertical stripes,
bags as blobs), and which as texture? The network was trained with clutter around each item: how
does that show?

## 3. The patches that excite a unit most

Zeiler and Fergus (2014) showed, for a unit, the dataset patches where it responds most. Each
patch is the unit's **receptive field**: the part of the input that position of the layer sees,
computed from the kernels, strides and paddings before it (`nn.Spec.ReceptiveField`)."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
test := must(fashion.TestSet(2000))
layer := "block3.relu"
field := must(gap.Spec.ReceptiveField(layer))
fmt.Printf("%s: receptive field %s\\n", layer, field)
all := make([]int, test.Len())
for i := range all {
	all[i] = i
}
items := notebook.FromSet(test, all...) // the items as pictures
grid := &render.Grid{Title: "the 8 strongest patches of four channels of " + layer, CellSize: 72}
for _, ch := range []int{0, 3, 5, 11} {
	var row []render.Cell
	for _, p := range must(visualize.TopPatches(gap, test, layer, ch, 8, 256)) {
		patch := items.Pictures[p.Image].SubImage(p.Region).(*image.RGBA)
		row = append(row, render.Cell{Image: render.Zoom(patch, 3), Caption: fmt.Sprintf("ch %d: %.1f", ch, p.Activation)})
	}
	grid.Rows = append(grid.Rows, row)
}
must(0, notebook.Grid(grid))"""),
    ("md", """Each row is one unit; its patches share a shape (an edge at one angle, a corner, a stripe)
even though they come from different garments.

**Questions.** Take `block1.relu` and then `block4.relu`: how do the receptive field and the
patches change? Why must the patch be cut at the receptive field, not around the whole item?

## 4. Feature space

The last layer before the classifier (`gap`, 32 numbers an item) is where the network has put
what matters for the class. Nearest neighbours there are items the network finds alike; nearest
neighbours in pixel space are items whose pixels are alike (often: whose clutter is alike)."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
test := must(fashion.TestSet(800))
emb := must(features.Embeddings(gap, test, "gap", 200))
pix := must(features.Pixels(test))
grid := &render.Grid{Title: "5 nearest: features (rows 1, 3), pixels (2, 4)", CellSize: 80}
for _, q := range []int{0, 7} {
	for _, space := range []*features.Points{emb, pix} {
		idx := append([]int{q}, must(features.Neighbours(space, q, 5))...)
		b := notebook.FromSet(test, idx...)
		var row []render.Cell
		for i, pic := range b.Pictures {
			row = append(row, render.Cell{Image: pic, Caption: test.Classes[test.Labels[idx[i]]]})
		}
		grid.Rows = append(grid.Rows, row)
	}
}
must(0, notebook.Grid(grid))
same := func(p *features.Points) float64 {
	n := 0
	for i := range p.N {
		if test.Labels[must(features.Neighbours(p, i, 1))[0]] == test.Labels[i] {
			n++
		}
	}
	return 100 * float64(n) / float64(p.N)
}
fmt.Printf("nearest neighbour of the same class: %.0f%% in feature space, %.0f%% in pixel space\\n", same(emb), same(pix))"""),
    ("md", """A 2-D picture of the whole feature space: t-SNE (van der Maaten and Hinton 2008) places
items so that neighbours stay neighbours; PCA, the linear map of largest variance, beside it.
Each dot is an item, coloured by its true class."""),
    ("go", """%%
gap := must(fashion.Load(fashion.GAP, nil))
test := must(fashion.TestSet(800))
emb := must(features.Embeddings(gap, test, "gap", 200))
groups := make([]int, test.Len())
for i, l := range test.Labels {
	groups[i] = int(l)
}
var figs []notebook.Figure
for _, m := range []struct {
	name string
	p    *features.Points
}{{"t-SNE", must(features.TSNE(emb, features.TSNEOptions{Seed: 1}))}, {"PCA", must(features.PCA(emb, 2))}} {
	xs, ys := make([]float64, m.p.N), make([]float64, m.p.N)
	for i := range m.p.N {
		xs[i], ys[i] = float64(m.p.At(i)[0]), float64(m.p.At(i)[1])
	}
	tw := must(features.Trustworthiness(emb, m.p, 5))
	img := must(render.ScatterPlot(fmt.Sprintf("%s of fashion-gap's features (trustworthiness %.2f)", m.name, tw), xs, ys, groups, test.Classes, 520, 420))
	figs = append(figs, notebook.Figure{Image: img, Caption: m.name})
}
must(0, notebook.Figures(figs...))"""),
    ("md", """Trousers, bags and footwear form islands of their own; shirts, pullovers, coats and
T-shirts overlap, and those are exactly the classes the network confuses. PCA keeps the broad
layout but packs the clusters on top of each other; t-SNE's trustworthiness (how many of each
point's 5 nearest neighbours it keeps) is higher.

**Questions.** Run t-SNE on the *pixels* (`features.Pixels(test)`) instead: what organizes that
map? Try `Perplexity: 5` and `Perplexity: 100`. Why are the distances *between* t-SNE's islands
not to be read as distances between classes?

## 5. Explore

Pick an image, one of its top 5 classes and a method, and slide through the layers from the
first to the last: the map is redrawn in place while the model stays loaded. Early layers
explain with edges, late ones with objects; where does the map start to pick the class's object?
(In a live notebook. Stop ends the cell; a rendered notebook shows the first state.)"""),
    ("go", """%%
m := model()
b := notebook.Images(m, "cat_dog.png", "horses.jpg", "snake.png", "spider.png")
notebook.Explore(m, b, []gradcam.Method{gradcam.GradCAM, gradcam.GradCAMPlusPlus, gradcam.LayerCAM, gradcam.HiResCAM}, 0)"""),
]


NOTEBOOKS["11_gradcam_by_hand.ipynb"] = [
    ("md", """# Grad-CAM by hand

Grad-CAM is three lines of arithmetic on two arrays the network already has: a layer's
activations $A^k$ and the gradient of the class score $y^c$ with respect to them. This notebook
computes it by hand on the real SqueezeNet (`../shared/weights`), checks it against the library,
and then looks at each step: why the ReLU, what the coarse map looks like before it is upsampled,
and how the map changes from early to late layers.

$$\\alpha_k^c = \\frac{1}{Z}\\sum_{i,j} \\frac{\\partial y^c}{\\partial A^k_{ij}}, \\qquad
L^c_{\\text{Grad-CAM}} = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c A^k\\Big)$$"""),
    *START("fmt", "image", "github.com/gradcam-go/gradcam/gradcam", "github.com/gradcam-go/gradcam/gradcam/render",
           "github.com/gradcam-go/gradcam/notebook"),
    ("md", """## 1. The two ingredients, and the three lines

`LayerGradient` returns the activations of SqueezeNet's last block (`features.12`, 512 channels
of 13x13) and the gradient of the *bull mastiff* logit with respect to them."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
e := notebook.ExplainerOf(m)
acts, grads, shape, err := e.LayerGradient(b.Input, m.DefaultLayer(), gradcam.Logit, []int{243})
if notebook.Error(err) {
	return
}
c, h, w := shape[1], shape[2], shape[3]
fmt.Printf("layer %s: activations and gradients of shape %v\\n", m.DefaultLayer(), shape)

// alpha_k: the spatial mean of channel k's gradient; the map: the alpha-weighted sum, then ReLU.
byHand := make([]float32, h*w)
for k := range c {
	var alpha float32
	for p := range h * w {
		alpha += grads[k*h*w+p]
	}
	alpha /= float32(h * w)
	for p := range h * w {
		byHand[p] += alpha * acts[k*h*w+p]
	}
}
for p := range byHand {
	byHand[p] = max(byHand[p], 0)
}

res, err := e.Explain(b.Input, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{243}})
if notebook.Error(err) {
	return
}
library := res[0].Maps[gradcam.GradCAM].LowRes
var worst, largest float32
for p := range byHand {
	worst = max(worst, max(byHand[p]-library[p], library[p]-byHand[p]))
	largest = max(largest, library[p])
}
fmt.Printf("by hand vs the library: largest difference %.2g, %.2g of the map's maximum %.3g\\n", worst, worst/largest, largest)"""),
    ("md", """The two agree to float32 rounding (`paper/paper_test.go` holds them to 1e-5 of the
maximum). Everything else in the library (upsampling, normalizing, colouring) is presentation.

## 2. Why the ReLU?

Without it, the weighted sum is negative wherever the layer's features speak *against* the class:
the paper keeps only the features with a positive influence, since negative regions "likely belong
to other categories". Here the negative values are small: the most negative, at the cat's head, is
a quarter of the largest positive one on the dog's face. Drawn on one colour scale around zero
(green), the unrectified map is a faint wash; with the ReLU and scaled to its maximum, only the
evidence for *bull mastiff* is left."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
acts, grads, shape, err := notebook.ExplainerOf(m).LayerGradient(b.Input, m.DefaultLayer(), gradcam.Logit, []int{243})
if notebook.Error(err) {
	return
}
c, h, w := shape[1], shape[2], shape[3]
raw := make([]float32, h*w)
for k := range c {
	var alpha float32
	for p := range h * w {
		alpha += grads[k*h*w+p]
	}
	for p := range h * w {
		raw[p] += alpha / float32(h*w) * acts[k*h*w+p]
	}
}
var lo, hi float32
negative := 0
for _, v := range raw {
	lo, hi = min(lo, v), max(hi, v)
	if v < 0 {
		negative++
	}
}
scale := max(hi, -lo)
signed, rectified := make([]float32, h*w), make([]float32, h*w)
for p, v := range raw {
	signed[p] = 0.5 + v/(2*scale)         // 0.5 is zero
	rectified[p] = max(v, 0) / hi           // the ReLU, scaled as Grad-CAM scales it
}
fmt.Printf("%d of %d positions are negative before the ReLU (most negative %.3g, most positive %.3g)\\n", negative, h*w, lo, hi)
up := func(v []float32) []float32 { return render.Resize(v, h, w, 224, 224) }
without, err := render.Overlay(b.Pictures[0], up(signed), render.Jet, 0.5)
if notebook.Error(err) {
	return
}
with, err := render.Overlay(b.Pictures[0], up(rectified), render.Jet, 0.5)
if notebook.Error(err) {
	return
}
withBar, err := render.WithColorbar(without, render.Jet, fmt.Sprintf("%.2g", -scale), fmt.Sprintf("+%.2g", scale))
if notebook.Error(err) {
	return
}
notebook.Error(notebook.Figures(notebook.Figure{Image: withBar, Caption: "without the ReLU (0 is green)"},
	notebook.Figure{Image: with, Caption: "Grad-CAM: with the ReLU"}))"""),
    ("md", """## 3. The blog's three panels

The map is computed at the layer's 13x13 resolution, upsampled bilinearly to the image's 224x224
and blended over it. The colour bar says what the colours mean: the map is scaled to its maximum."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
res := notebook.Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{282}})
if res == nil {
	return
}
mp := res[0].Maps[gradcam.GradCAM]
lh, lw := mp.LowResShape[0], mp.LowResShape[1]
low, err := render.Heatmap(render.Normalize(mp.LowRes), lw, lh, render.Jet)
if notebook.Error(err) {
	return
}
up, err := render.Heatmap(mp.Values, 224, 224, render.Jet)
if notebook.Error(err) {
	return
}
over, err := render.Overlay(b.Pictures[0], mp.Values, render.Jet, 0.5)
if notebook.Error(err) {
	return
}
pics := []image.Image{render.Zoom(low, 224/lw), up, over}
captions := []string{fmt.Sprintf("1. the %dx%d map", lw, lh), "2. upsampled to 224x224", "3. over the image"}
var figs []notebook.Figure
for i, pic := range pics {
	withBar, err := render.WithColorbar(pic, render.Jet, "0", "max")
	if notebook.Error(err) {
		return
	}
	figs = append(figs, notebook.Figure{Image: withBar, Caption: captions[i]})
}
notebook.Error(notebook.Figures(figs...))"""),
    ("md", """## 4. Layer by layer

Grad-CAM can explain any convolutional layer. Early layers have fine resolution but features
that know little about classes (edges, colours): their maps are noisy and not class-specific.
The last block is coarse but semantic. The paper explains the last convolutional layer for
that reason."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
var figs []notebook.Figure
for _, layer := range []string{"features.3", "features.5", "features.8", "features.10", "features.12"} {
	res, err := notebook.ExplainerOf(m).Explain(b.Input, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{282}, Layers: []string{layer}})
	if notebook.Error(err) {
		return
	}
	mp := res[0].Maps[gradcam.GradCAM]
	pic, err := render.Overlay(b.Pictures[0], mp.Values, render.Jet, 0.5)
	if notebook.Error(err) {
		return
	}
	figs = append(figs, notebook.Figure{Image: pic, Caption: fmt.Sprintf("tiger cat at %s (%dx%d)", layer, mp.LowResShape[1], mp.LowResShape[0])})
}
notebook.Error(notebook.Figures(figs...))"""),
    ("md", """**What to notice.** The early layers' maps are scattered over edges of both animals, the floor
and the window; `features.10` lights up the top of the picture; only the last block,
`features.12`, settles on the cat. The resolution falls as the evidence
becomes class-specific: Grad-CAM's trade-off, which Guided Grad-CAM answers by multiplying with
the fine guided-backpropagation image.

## Exercises

1. Replace the mean of the gradients by the mean of their absolute values: what changes?
2. Keep only the 10 channels with the largest $\\alpha_k$: how close is the map to Grad-CAM's?
3. Explain *bull mastiff* layer by layer: at which layer does the map leave the cat?"""),
]


NOTEBOOKS["12_failure_modes_and_adversarial_noise.ipynb"] = [
    ("md", """# When the network is wrong, and when it is fooled (the paper's Sections 6.2 and 6.3)

Grad-CAM is most useful when the answer is wrong: it shows what misled the network. And it stays
useful when the answer has been forced: an adversarial image makes the network see an airliner,
yet Grad-CAM still finds the dog and the cat. The network is the real SqueezeNet of
`../shared/weights`; the photos are the ones Debian ships with scikit-image and scikit-learn
(`notebook.DebianPhotos`), with their objects' boxes in `docs/boxes/debian-photos.csv`. Under each
figure: where the predicted class's map puts its mass."""),
    *START("fmt", "path/filepath", "github.com/gradcam-go/gradcam/attack", "github.com/gradcam-go/gradcam/gradcam",
           "github.com/gradcam-go/gradcam/models", "github.com/gradcam-go/gradcam/notebook"),
    ("md", """## Failure modes

For each photo: the network's top class (wrong) and the true class, each with Grad-CAM and
Guided Grad-CAM."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
for _, photo := range []string{"skimage/data/astronaut.png", "skimage/data/rocket.jpg", "sklearn/datasets/images/flower.jpg", "sklearn/datasets/images/china.jpg"} {
	file := filepath.Join(notebook.DebianPhotos, photo)
	b := notebook.Images(m, file)
	objs := notebook.Objects(m, file)
	top, err := m.Predict(b.Input, 1)
	if notebook.Error(err) || objs == nil {
		return
	}
	notebook.Markdown(fmt.Sprintf("### %s: predicted *%s* (p = %.2f), true *%s*", filepath.Base(photo), top[0][0].Label, top[0][0].Probability, objs[0].Label))
	res := notebook.Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.GuidedGradCAM}, Classes: []int{top[0][0].Class, objs[0].Class}})
	notebook.BoxMass(res, gradcam.GradCAM, objs)
}"""),
    ("md", """**What misled it.**
- *astronaut*: SqueezeNet says **coffeepot**, and its map sits on the metal ring of the suit's neck,
  a shiny round rim; the space shuttle in the background gets its own map on the shuttle, but a
  far lower score. ImageNet has no class for a person.
- *rocket*: **pole**. The map is on the launch towers and the lamp posts: tall thin structures
  fill the picture, and under a tenth of the map's mass is on the rocket. The true class,
  *missile*, is found on the rocket's nose.
- *flower*: **brain coral**, with the map *on* the flower: the network looks at the right place
  and has no word for a dahlia; the folded petals are what coral looks like. Its second guesses
  (sea urchin, jellyfish) say the same.
- *china*: **bell cote**, the map on the pagoda's roof top: ImageNet has no pagoda, and the
  roof's tip is what a bell cote's is.

`paper/paper_test.go` asserts the rocket (the map off the object) and the flower (the map on it).

## Adversarial noise

A targeted attack (package `attack`: projected gradient descent on the pixels under an L∞ budget
of 8/255, kept on whole 8-bit levels) makes SqueezeNet see an **airliner** in the cat-and-dog
picture. The change is invisible; amplified 20 times around grey it is a fine texture."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
b := notebook.Images(m, "cat_dog.png")
t, err := m.Transform(models.Stretch)
if notebook.Error(err) {
	return
}
const airliner = 404
adv, err := attack.Targeted(notebook.ExplainerOf(m), t, b.Pictures[0], airliner, attack.Options{Epsilon: 8.0 / 255})
if notebook.Error(err) {
	return
}
fmt.Printf("original: %s p=%.3f; adversarial after %d steps (L∞ %g/255): %s p=%.4f\\n",
	m.Label(adv.Original), adv.OriginalProbability, adv.Steps, adv.LInf*255, m.Label(adv.Top), adv.TopProbability)
notebook.Error(notebook.Figures(notebook.Figure{Image: b.Pictures[0], Caption: "original"},
	notebook.Figure{Image: adv.Image, Caption: "adversarial: " + m.Label(adv.Top)},
	notebook.Figure{Image: notebook.Difference(b.Pictures[0], adv.Image, 20), Caption: "difference x 20"}))

notebook.Markdown("Grad-CAM of the original classes and of *airliner* on the adversarial image:")
a := notebook.Pictures(m, []string{"adversarial"}, adv.Image)
res := notebook.Explain(m, a, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.GuidedGradCAM}, Classes: []int{243, 282, airliner}})
notebook.BoxMass(res, gradcam.GradCAM, notebook.Objects(m, "cat_dog.png"))
notebook.Markdown("The same classes on the original image:")
orig, err := notebook.ExplainerOf(m).Explain(b.Input, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{243, 282}})
if notebook.Error(err) {
	return
}
notebook.BoxMass(orig, gradcam.GradCAM, notebook.Objects(m, "cat_dog.png"))"""),
    ("md", """**What to notice.** The adversarial image is an airliner with near certainty, and the
original classes' probabilities collapse, yet their Grad-CAM maps barely move: *bull mastiff*
still puts about two thirds of its mass in the dog's box, *tiger cat* in the cat's. The features
that say "dog" and "cat" are still there; the attack adds a little evidence for *airliner*
everywhere. The same holds for the paper's VGG-16.

`gradcam attack --image F --target CLASS --out FILE.png` does the same from the command line; the
PNG it writes is still adversarial when read back (`cmd/gradcam/attack_test.go`).

## Exercises

1. Attack towards another class (e.g. 999, toilet tissue): do the maps still find the animals?
2. Lower the budget to 2/255 and 1/255: when does the attack fail?
3. Which of the photos does MobileNetV2 get right, and does its map agree with SqueezeNet's?"""),
]


NOTEBOOKS["13_faithfulness_and_localization.ipynb"] = [
    ("md", """# Faithfulness and localization on real photos (the paper's Section 5.3 and Table 1)

Two measurements of the paper, run on the photos this machine has: the images of
`../shared/images` and the photos Debian ships, with their objects' boxes annotated in
`docs/boxes/`.

- **Localization (Table 1's protocol).** The box around the largest connected region of the map
  at or above 15% of its maximum; an example is localized when the top-1 class is right *and* the
  box overlaps the truth with IoU >= 0.5 (*localization error* counts the others). The **pointing
  game** asks only whether the map's maximum falls on the object (within 15 pixels).
- **Faithfulness (Section 5.3).** The rank correlation between a method's map and the occlusion
  map of the same class: how well the map predicts what hiding each region does to the score.

The same runs are one command: `gradcam evaluate --data DIR --boxes FILE --metric
localization-error,pointing-game,occlusion-correlation`."""),
    *START("github.com/gradcam-go/gradcam/gradcam", "github.com/gradcam-go/gradcam/metrics",
           "github.com/gradcam-go/gradcam/notebook"),
    ("md", """## SqueezeNet

On ../shared/images (8 examples: each (image, class) pair, the cat-and-dog picture four times),
then on the Debian photos (10 examples)."""),
    ("go", """%%
m := notebook.Load("squeezenet1_0")
opts := metrics.Options{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.CAM, gradcam.GuidedBackprop, gradcam.GuidedGradCAM},
	Metrics: []metrics.Metric{metrics.ClassificationError, metrics.LocalizationError, metrics.PointingGameAccuracy, metrics.OcclusionCorrelation}}
notebook.Evaluate(m, notebook.BoxedImages(m, notebook.ImagesDir(), notebook.Repo("docs", "boxes", "shared-images.csv")), opts)
notebook.Evaluate(m, notebook.BoxedImages(m, notebook.DebianPhotos, notebook.Repo("docs", "boxes", "debian-photos.csv")), opts)"""),
    ("md", """## MobileNetV2"""),
    ("go", """%%
m := notebook.Load("mobilenet_v2")
opts := metrics.Options{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.CAM, gradcam.GuidedBackprop, gradcam.GuidedGradCAM},
	Metrics: []metrics.Metric{metrics.ClassificationError, metrics.LocalizationError, metrics.PointingGameAccuracy, metrics.OcclusionCorrelation}}
notebook.Evaluate(m, notebook.BoxedImages(m, notebook.ImagesDir(), notebook.Repo("docs", "boxes", "shared-images.csv")), opts)
notebook.Evaluate(m, notebook.BoxedImages(m, notebook.DebianPhotos, notebook.Repo("docs", "boxes", "debian-photos.csv")), opts)"""),
    ("md", """## Ours beside the paper's

| | the paper (VGG-16) | ours, SqueezeNet (shared / Debian) | ours, MobileNetV2 (shared / Debian) |
|---|---|---|---|
| Grad-CAM top-1 localization error | 56.5% (ILSVRC-15 val, 50,000 images) | 62.5% / 90% | 75% / 90% |
| rank correlation with occlusion, guided backprop | 0.168 (PASCAL VOC 2007 val) | 0.56 / 0.34 | 0.23 / 0.39 |
| rank correlation with occlusion, Guided Grad-CAM | 0.261 | 0.62 / 0.49 | 0.13 / 0.41 |

**What to notice.** These are 8 and 10 examples, not 50,000: the numbers say what the method
does on these pictures, not what it does on ImageNet. The localization errors are high chiefly
because the top-1 class is wrong (the cat-and-dog picture counts four times and only one of its
four classes can be the top one; the Debian photos are mostly things ImageNet has no class for),
which Table 1's protocol counts as a localization error; the pointing game, which ignores the
prediction, is 90-100% for Grad-CAM on SqueezeNet. CAM and Grad-CAM give the same numbers: on a
network that ends in global average pooling they are the same map (notebook 02).

On faithfulness SqueezeNet repeats the paper's ordering: Guided Grad-CAM agrees with occlusion
better than guided backpropagation, on both sets. MobileNetV2 does not on ../shared/images, where
its Grad-CAM barely correlates with its occlusion map: its 7x7 maps are coarse, and occlusion's 56-pixel
patches hide a quarter of the image's width at a time.

With ILSVRC's validation images and boxes (README, *Localization on real photos*), the same call
reproduces Table 1 on VGG-16."""),
]


NOTEBOOKS["14_finetuning_like_the_blog.ipynb"] = [
    ("md", """# Fine-tuning, then Grad-CAM before and after

A well-known Grad-CAM tutorial fine-tunes an ImageNet ResNet-18 on STL10 and compares the maps of
the ImageNet model and of the fine-tuned one on the same pictures. STL10 cannot be downloaded
here, so this notebook fine-tunes the real ImageNet **MobileNetV2** of `../shared/weights` on a
stand-in that is on every machine with Debian's `dataset-fashion-mnist`: Fashion-MNIST's clothes,
drawn as 112x112 RGB pictures. With STL10's class folders on disk (`train/CLASS/*.png` and
`test/CLASS/*.png`, e.g. from the binary release converted to PNG), set `$STL10_DIR` to their
parent folder and the same cells fine-tune on STL10 at 96x96 instead.

The backbone is frozen and runs as at inference (its batch norms on their running statistics);
only the new 10-class head trains. `train/frozen_test.go` runs the same recipe and asserts the
accuracies."""),
    *START("fmt", "image", "os", "path/filepath", "github.com/gradcam-go/gradcam/data", "github.com/gradcam-go/gradcam/gradcam",
           "github.com/gradcam-go/gradcam/models", "github.com/gradcam-go/gradcam/notebook", "github.com/gradcam-go/gradcam/train"),
    ("md", """## The data, the model, the training

The ImageNet model with its new head is measured before training (the head is untrained: chance,
10%), then trained for 2 epochs."""),
    ("go", """%%
t := models.ImageNet(models.Stretch)
var trainSet, testSet *data.Set
var err error
if dir := os.Getenv("STL10_DIR"); dir != "" {
	t.Height, t.Width = 96, 96
	if trainSet, err = data.ImageFolder(filepath.Join(dir, "train"), t); notebook.Error(err) {
		return
	}
	if testSet, err = data.ImageFolder(filepath.Join(dir, "test"), t); notebook.Error(err) {
		return
	}
} else {
	t.Height, t.Width = 112, 112
	fashionTrain, err := data.FashionMNIST("train")
	if notebook.Error(err) {
		return
	}
	fashionTest, err := data.FashionMNIST("test")
	if notebook.Error(err) {
		return
	}
	if trainSet, err = fashionTrain.Head(600).Transformed(t); notebook.Error(err) {
		return
	}
	if testSet, err = fashionTest.Head(200).Transformed(t); notebook.Error(err) {
		return
	}
}
fmt.Printf("%d training and %d test pictures of %v, classes %v\\n", trainSet.Len(), testSet.Len(), trainSet.Shape, trainSet.Classes)

m := notebook.NewHead("mobilenet_v2", trainSet.Classes)
_, before, err := train.Evaluate(m, testSet, 50)
if notebook.Error(err) {
	return
}
_, err = train.Fit(m, trainSet, train.Options{Epochs: 2, BatchSize: 16, LearningRate: 3e-3, Seed: 1, Trainable: train.Only("classifier.1")})
if notebook.Error(err) {
	return
}
_, after, err := train.Evaluate(m, testSet, 50)
if notebook.Error(err) {
	return
}
fmt.Printf("held-out accuracy: %.1f%% with the untrained head, %.1f%% fine-tuned\\n", 100*before, 100*after)
if notebook.Error(m.Save(filepath.Join(os.TempDir(), "finetuned.safetensors"))) {
	return
}"""),
    ("md", """## Grad-CAM: the ImageNet model and the fine-tuned one

The same five test pictures, explained by the ImageNet model for its own top class (an ImageNet
class: it has never seen a "sneaker" label) and by the fine-tuned model for its prediction."""),
    ("go", """%%
t := models.ImageNet(models.Stretch)
t.Height, t.Width = 112, 112
fashionTest, err := data.FashionMNIST("test")
if notebook.Error(err) {
	return
}
ft := notebook.Load("mobilenet_v2", filepath.Join(os.TempDir(), "finetuned.safetensors"))
imagenet := notebook.Load("mobilenet_v2")
if ft == nil || imagenet == nil {
	return
}
var names []string
var pics []*image.RGBA
for _, i := range []int{0, 1, 2, 3, 4} {
	pic, err := fashionTest.Picture(i)
	if notebook.Error(err) {
		return
	}
	names, pics = append(names, fashionTest.Classes[fashionTest.Labels[i]]), append(pics, t.Fit(pic))
}
for _, m := range []*models.Model{imagenet, ft} {
	notebook.Markdown(fmt.Sprintf("**%s** (%d outputs): Grad-CAM of its top class", m.Name, m.Outputs))
	notebook.Explain(m, notebook.Pictures(m, names, pics...), gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}})
}"""),
    ("md", """**What to notice.** The ImageNet model names ImageNet things: a theater curtain for the
ankle boot, a switch for the pullover, a lab coat for the shirt. After fine-tuning the model
names the garments (four of these five right; the shirt is called a coat), and its maps move to
other parts of them: for the ankle boot from the whole shoe to the shaft and the ankle, for the
trousers towards the waist and the gap between the legs, where a dress would differ. The
backbone did not change (`TestFinetuneFrozenMobileNetV2Learns` checks it bit for bit): the new
head reads the same features differently. The blog sees the same on STL10.

## Exercises

1. Fine-tune with `train.Options.FrozenTrainMode: true` (PyTorch's `model.train()` on the frozen
   backbone): what happens to the accuracy, and why (README, *finetune*)?
2. Train every layer (no `Trainable`): is it better after 2 epochs, and what do the maps do?
3. Explain the fine-tuned model's mistakes: which classes does it confuse, and where does it look?"""),
]


NOTEBOOKS["15_finding_bias.ipynb"] = [
    ("md", """# Finding a model's bias with Grad-CAM (the paper's Figure 8 in miniature)

The paper trains a doctor/nurse classifier on images biased by gender: the network learns to look
at faces and hair instead of the stethoscope or the uniform, Grad-CAM shows it, and a balanced
training set fixes both the map and the accuracy.

Here the task is circles against squares (`data.Biased`), and the bias is a small white mark in
the top-left corner, drawn on 95% of the squares' pictures and 5% of the circles'. One network
is trained on that set, another on a set where the mark is at random, and both are tested on
pictures where the mark says nothing. The two trainings take about 20 seconds each
(`paper.BiasNetwork`; `paper/bias_test.go` asserts the numbers)."""),
    *START("fmt", "github.com/gradcam-go/gradcam/data", "github.com/gradcam-go/gradcam/gradcam",
           "github.com/gradcam-go/gradcam/notebook", "github.com/gradcam-go/gradcam/paper", "github.com/gradcam-go/gradcam/train"),
    ("md", "Eight training pictures of the biased set: which ones show the mark?"),
    ("go", """%%
set := data.Biased(8, 1, 0.95)
var figs []notebook.Figure
for i := range 8 {
	pic, err := set.Picture(i)
	if notebook.Error(err) {
		return
	}
	figs = append(figs, notebook.Figure{Image: pic, Caption: set.Classes[set.Labels[i]]})
}
notebook.Error(notebook.Figures(figs...))"""),
    ("md", """## Two networks, one test

Both are tested on 300 pictures with the mark at random; Grad-CAM is measured on the test pictures
that show the mark, for the class each network predicts. The mark covers 2.4% of a picture."""),
    ("go", """%%
test := data.Biased(300, 99, 0.5)
for _, agreement := range []float64{0.95, 0.5} {
	m, err := paper.BiasNetwork(agreement)
	if notebook.Error(err) {
		return
	}
	_, acc, err := train.Evaluate(m, test, 100)
	if notebook.Error(err) {
		return
	}
	cue, object, err := paper.CueShare(m, test, 60)
	if notebook.Error(err) {
		return
	}
	notebook.Markdown(fmt.Sprintf("**Trained where the mark agrees with the label %.0f%% of the time:** accuracy %.1f%% with the mark at random; Grad-CAM puts %.0f%% of its mass on the mark and %.0f%% on the shape.",
		100*agreement, 100*acc, 100*cue, 100*object))
	// Circles that show the mark: the biased network's failure case.
	var idx []int
	for i := range test.Len() {
		if test.Labels[i] == 0 && data.ShowsBiasCue(test, i) && len(idx) < 4 {
			idx = append(idx, i)
		}
	}
	notebook.Explain(m, notebook.FromSet(test, idx...), gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, ImageClasses: []int{-1, -1, -1, -1}},
		notebook.Style{Zoom: 3})
}"""),
    ("md", """**What to notice.** The biased network is right on its own training distribution and
wrong a third of the time once the mark says nothing. On circles that show the mark it answers
*square*, and its Grad-CAM sits on the corner: the failure case explains itself. The network
trained on the balanced set ignores the corner, looks at the shape, and is right on every test
picture. As in the paper, the map shows what the accuracy alone cannot: *why* the biased model
fails, and that retraining on balanced data fixed the reason, not only the score.

## Exercises

1. Lower the agreement to 0.8: at what agreement does the network stop relying on the mark?
2. Move the mark next to the shape: does Grad-CAM still tell the two apart?
3. Make the shapes harder to tell apart (smaller): does the biased network rely on the mark more?"""),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    import sys
    only = sys.argv[1:]  # notebook file names; none: all of them
    for name, cells in NOTEBOOKS.items():
        if only and name not in only:
            continue
        nb = nbf.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "gonb", "display_name": "Go (gonb)", "language": "go"}
        nb.metadata["language_info"] = {"name": "go"}
        nb.cells = [nbf.v4.new_markdown_cell(t) if k == "md" else nbf.v4.new_code_cell(t) for k, t in cells]
        nbf.write(nb, os.path.join(here, name))
        print("wrote", name)


if __name__ == "__main__":
    main()
