package data

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// sceneColors are the colours scenes paint objects with, by name (SceneColorNames).
var sceneColors = map[string]color.RGBA{
	"red": {220, 30, 30, 255}, "green": {30, 170, 50, 255}, "blue": {40, 70, 220, 255},
	"yellow": {240, 210, 20, 255}, "purple": {140, 50, 170, 255}, "white": {245, 245, 245, 255},
}

// SceneShapes returns the shapes scenes draw.
func SceneShapes() []string { return slices.Clone(sceneShapes) }

var sceneShapes = []string{"circle", "square", "triangle", "cross"}

// SceneObject is one object of a scene: a shape in one colour, or in two (the top half in the
// first, the bottom half in the second: the paper's "yellow and red" fire hydrant).
type SceneObject struct {
	Shape  string
	Colors []string
	Box    Box    // the object's extent, x1 and y1 exclusive
	Mask   []bool // the object's pixels, row-major over the scene
	// ColorMasks are the pixels of each of Colors (for two colours, the two halves).
	ColorMasks [][]bool
}

// ColorName is the object's colour as a VQA answer: "red", or "yellow and red".
func (o SceneObject) ColorName() string { return strings.Join(o.Colors, " and ") }

// SceneQuestion is a question about one object of a scene, with its answer.
type SceneQuestion struct {
	Question, Answer string
	Object           int // index into the scene's objects
}

// Scene is a generated picture of coloured shapes on a textured background, with everything
// about it known: each object's shape, colours, box and masks, questions with their answers, and
// a caption.
type Scene struct {
	Image     *image.RGBA
	Objects   []SceneObject
	Questions []SceneQuestion
	Caption   string
}

// ScenesOptions configure Scenes. The zero value makes 64x64 scenes of 2 or 3 objects, a third of
// them two-coloured.
type ScenesOptions struct {
	Size                   int     // side, pixels; 0: 64
	MinObjects, MaxObjects int     // 0: 2 and 3
	TwoColor               float64 // the share of two-coloured objects; 0: 1/3 (negative: none)
}

func (o ScenesOptions) withDefaults() (ScenesOptions, error) {
	if o.Size == 0 {
		o.Size = 64
	}
	if o.MinObjects == 0 {
		o.MinObjects = 2
	}
	if o.MaxObjects == 0 {
		o.MaxObjects = max(3, o.MinObjects)
	}
	if o.TwoColor == 0 {
		o.TwoColor = 1.0 / 3
	}
	switch {
	case o.Size < 32:
		return o, fmt.Errorf("scenes of %d pixels are too small: at least 32", o.Size)
	case o.MinObjects < 1 || o.MaxObjects < o.MinObjects || o.MaxObjects > 4:
		return o, fmt.Errorf("scenes of %d to %d objects: want 1 <= min <= max <= 4", o.MinObjects, o.MaxObjects)
	}
	return o, nil
}

// Scenes generates n scenes, the same ones for the same seed and options.
//
// Objects do not overlap, and no two objects of a scene share both shape and colours. Each scene
// asks "what color is the SHAPE?" of every object whose shape is alone in the scene, and "what
// shape is the COLOR object?" of every object whose colours are; its caption names the objects
// from left to right ("a red circle and a yellow and red square").
func Scenes(n int, seed uint64, o ScenesOptions) ([]Scene, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("%d scenes: ask for at least 1", n)
	}
	colors := SceneColorNames()
	r := rand.New(rand.NewPCG(seed, 0x5343454e4553)) // "SCENES"
	out := make([]Scene, n)
	for i := range out {
		out[i] = newScene(r, o, colors)
	}
	return out, nil
}

func newScene(r *rand.Rand, o ScenesOptions, colors []string) Scene {
	s := o.Size
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	// A textured background: a brownish-grey base, a diagonal weave and noise.
	base := 90 + r.IntN(50)
	period := 4 + r.IntN(5)
	for y := range s {
		for x := range s {
			v := base + 12*((x+y)/period%2) + r.IntN(16) - 8
			img.SetRGBA(x, y, color.RGBA{uint8(v + 10), uint8(v + 4), uint8(v - 6), 255})
		}
	}
	count := o.MinObjects + r.IntN(o.MaxObjects-o.MinObjects+1)
	var sc Scene
	occupied := make([]bool, s*s)
	for len(sc.Objects) < count {
		var obj SceneObject
		placed := false
		for try := 0; try < 50 && !placed; try++ {
			obj = SceneObject{Shape: sceneShapes[r.IntN(len(sceneShapes))], Colors: []string{colors[r.IntN(len(colors))]}}
			if r.Float64() < o.TwoColor {
				second := colors[r.IntN(len(colors))]
				for second == obj.Colors[0] {
					second = colors[r.IntN(len(colors))]
				}
				obj.Colors = append(obj.Colors, second)
			}
			side := s/4 + r.IntN(s/6+1)
			x0, y0 := 1+r.IntN(s-side-1), 1+r.IntN(s-side-1)
			obj.Box = Box{x0, y0, x0 + side, y0 + side}
			if slices.ContainsFunc(sc.Objects, func(p SceneObject) bool {
				return p.Shape == obj.Shape && slices.Equal(p.Colors, obj.Colors)
			}) {
				continue
			}
			obj.Mask = shapeMask(obj.Shape, obj.Box, s)
			free := true
			for p, on := range obj.Mask { // a pixel's margin apart from the others
				if on && (occupied[p] || (p%s > 0 && occupied[p-1]) || (p%s < s-1 && occupied[p+1]) ||
					(p >= s && occupied[p-s]) || (p < s*s-s && occupied[p+s])) {
					free = false
					break
				}
			}
			placed = free
		}
		if !placed {
			break // the scene is full: fewer objects
		}
		obj.ColorMasks = make([][]bool, len(obj.Colors))
		mid := (obj.Box.Y0 + obj.Box.Y1) / 2
		for k := range obj.ColorMasks {
			obj.ColorMasks[k] = make([]bool, s*s)
		}
		for p, on := range obj.Mask {
			if !on {
				continue
			}
			occupied[p] = true
			k := 0
			if len(obj.Colors) == 2 && p/s >= mid {
				k = 1
			}
			obj.ColorMasks[k][p] = true
			c := sceneColors[obj.Colors[k]]
			shade := r.IntN(21) - 10
			img.SetRGBA(p%s, p/s, color.RGBA{clamp(int(c.R) + shade), clamp(int(c.G) + shade), clamp(int(c.B) + shade), 255})
		}
		sc.Objects = append(sc.Objects, obj)
	}
	sc.Image = img
	for i, obj := range sc.Objects {
		sameShape, sameColor := 0, 0
		for _, p := range sc.Objects {
			if p.Shape == obj.Shape {
				sameShape++
			}
			if slices.Equal(p.Colors, obj.Colors) {
				sameColor++
			}
		}
		if sameShape == 1 {
			sc.Questions = append(sc.Questions, SceneQuestion{Question: "what color is the " + obj.Shape + "?", Answer: obj.ColorName(), Object: i})
		}
		if sameColor == 1 {
			sc.Questions = append(sc.Questions, SceneQuestion{Question: "what shape is the " + obj.ColorName() + " object?", Answer: obj.Shape, Object: i})
		}
	}
	order := make([]int, len(sc.Objects))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return sc.Objects[a].Box.X0 - sc.Objects[b].Box.X0 })
	words := make([]string, len(order))
	for i, k := range order {
		words[i] = "a " + sc.Objects[k].ColorName() + " " + sc.Objects[k].Shape
	}
	sc.Caption = strings.Join(words, " and ")
	return sc
}

// shapeMask draws a shape filling a box, on an s x s grid.
func shapeMask(shape string, b Box, s int) []bool {
	m := make([]bool, s*s)
	w := float64(b.X1 - b.X0)
	cx, cy := float64(b.X0+b.X1-1)/2, float64(b.Y0+b.Y1-1)/2
	for y := b.Y0; y < b.Y1; y++ {
		for x := b.X0; x < b.X1; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			var on bool
			switch shape {
			case "circle":
				on = dx*dx+dy*dy <= (w/2)*(w/2)
			case "square":
				on = true
			case "triangle": // apex at the top, base at the bottom
				on = math.Abs(dx) <= (float64(y-b.Y0)+1)/2
			case "cross":
				on = math.Abs(dx) <= w/6 || math.Abs(dy) <= w/6
			}
			m[y*s+x] = on
		}
	}
	return m
}

func clamp(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// sceneJSON is a scene's description as `gradcam scenes` writes it beside the picture.
type sceneJSON struct {
	Objects   []sceneObjectJSON   `json:"objects"`
	Questions []sceneQuestionJSON `json:"questions"`
	Caption   string              `json:"caption"`
	Size      int                 `json:"size"`
}

type sceneObjectJSON struct {
	Shape      string     `json:"shape"`
	Colors     []string   `json:"colors"`
	Box        [4]int     `json:"box"`
	Mask       [][2]int   `json:"mask"`
	ColorMasks [][][2]int `json:"color_masks"`
}

type sceneQuestionJSON struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
	Object   int    `json:"object"`
}

// JSON describes the scene: {"objects": [{"shape", "colors", "box": [x0, y0, x1, y1], "mask",
// "color_masks"}], "questions": [{"question", "answer", "object"}], "caption", "size"}, masks as
// run-lengths [[start, length], ...] over the row-major pixels (one per colour in color_masks).
func (sc Scene) JSON() ([]byte, error) {
	j := sceneJSON{Caption: sc.Caption, Size: sc.Image.Bounds().Dx(), Questions: []sceneQuestionJSON{}}
	for _, o := range sc.Objects {
		oj := sceneObjectJSON{Shape: o.Shape, Colors: o.Colors, Box: [4]int{o.Box.X0, o.Box.Y0, o.Box.X1, o.Box.Y1}, Mask: RunLengths(o.Mask)}
		for _, m := range o.ColorMasks {
			oj.ColorMasks = append(oj.ColorMasks, RunLengths(m))
		}
		j.Objects = append(j.Objects, oj)
	}
	for _, q := range sc.Questions {
		j.Questions = append(j.Questions, sceneQuestionJSON{q.Question, q.Answer, q.Object})
	}
	return json.Marshal(j)
}

// RunLengths encodes a mask as [start, length] runs of its set pixels.
func RunLengths(mask []bool) [][2]int {
	runs := [][2]int{}
	for p := 0; p < len(mask); p++ {
		if !mask[p] {
			continue
		}
		start := p
		for p < len(mask) && mask[p] {
			p++
		}
		runs = append(runs, [2]int{start, p - start})
	}
	return runs
}

// Coverage is the share of a mask's pixels that are set: an object's share of its scene.
func Coverage(mask []bool) float64 {
	if len(mask) == 0 {
		return 0
	}
	n := 0
	for _, on := range mask {
		if on {
			n++
		}
	}
	return float64(n) / float64(len(mask))
}

// SceneColorNames are sceneColors' names, sorted.
func SceneColorNames() []string {
	names := make([]string, 0, len(sceneColors))
	for c := range sceneColors {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}
