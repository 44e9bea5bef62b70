package data

import (
	"bytes"
	"encoding/json"
	"image/png"
	"slices"
	"strings"
	"testing"
)

// TestScenes: the same seed makes the same scenes; every object lies inside its box, apart from
// the others, painted in its colours (the top half in the first of two); every question is about
// one object and its answer is that object's colour or shape, with no other object matching the
// question; the caption names the objects left to right; a third of the objects or so are
// two-coloured.
func TestScenes(t *testing.T) {
	a, err := Scenes(200, 7, ScenesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Scenes(200, 7, ScenesOptions{})
	c, _ := Scenes(200, 8, ScenesOptions{})
	var ab, ac bytes.Buffer
	for i := range 5 {
		png.Encode(&ab, a[i].Image)
		png.Encode(&ac, c[i].Image)
		var bb bytes.Buffer
		png.Encode(&bb, b[i].Image)
		if !bytes.HasSuffix(ab.Bytes(), bb.Bytes()) {
			t.Fatalf("scene %d differs between two runs of seed 7", i)
		}
	}
	if bytes.Equal(ab.Bytes(), ac.Bytes()) {
		t.Error("seeds 7 and 8 make the same scenes")
	}
	objects, twoColour, questions := 0, 0, 0
	for i, sc := range a {
		s := sc.Image.Bounds().Dx()
		if s != 64 || len(sc.Objects) < 2 || len(sc.Objects) > 3 {
			t.Fatalf("scene %d: %dpx, %d objects", i, s, len(sc.Objects))
		}
		covered := make([]int, s*s)
		for _, o := range sc.Objects {
			objects++
			if len(o.Colors) == 2 {
				twoColour++
			}
			area := 0
			for p, on := range o.Mask {
				if !on {
					continue
				}
				area++
				covered[p]++
				x, y := p%s, p/s
				if x < o.Box.X0 || x >= o.Box.X1 || y < o.Box.Y0 || y >= o.Box.Y1 {
					t.Fatalf("scene %d: a %s pixel (%d, %d) outside its box %v", i, o.Shape, x, y, o.Box)
				}
				k := slices.IndexFunc(o.ColorMasks, func(m []bool) bool { return m[p] })
				want := sceneColors[o.Colors[k]]
				got := sc.Image.RGBAAt(x, y)
				if d := int(got.R) - int(want.R) + int(got.G) - int(want.G); d > 20 || d < -20 {
					t.Fatalf("scene %d: pixel (%d, %d) of the %s %s is %v, not %s", i, x, y, o.ColorName(), o.Shape, got, o.Colors[k])
				}
			}
			if area < 20 {
				t.Errorf("scene %d: a %s of %d pixels", i, o.Shape, area)
			}
		}
		if slices.Max(covered) > 1 {
			t.Fatalf("scene %d: objects overlap", i)
		}
		for _, q := range sc.Questions {
			questions++
			o := sc.Objects[q.Object]
			switch {
			case strings.HasPrefix(q.Question, "what color is the "):
				shape := strings.TrimSuffix(strings.TrimPrefix(q.Question, "what color is the "), "?")
				if shape != o.Shape || q.Answer != o.ColorName() ||
					slices.ContainsFunc(sc.Objects, func(p SceneObject) bool { return p.Shape == shape && p.ColorName() != o.ColorName() }) {
					t.Errorf("scene %d: %q -> %q about a %s %s", i, q.Question, q.Answer, o.ColorName(), o.Shape)
				}
			case strings.HasPrefix(q.Question, "what shape is the "):
				if q.Answer != o.Shape || !strings.Contains(q.Question, " "+o.ColorName()+" object") {
					t.Errorf("scene %d: %q -> %q about a %s %s", i, q.Question, q.Answer, o.ColorName(), o.Shape)
				}
			default:
				t.Errorf("scene %d: question %q", i, q.Question)
			}
		}
		words := strings.Split(sc.Caption, " and a ")
		if len(words) != len(sc.Objects) || !strings.HasPrefix(sc.Caption, "a ") {
			t.Errorf("scene %d: caption %q for %d objects", i, sc.Caption, len(sc.Objects))
		}
	}
	if share := float64(twoColour) / float64(objects); share < 0.25 || share > 0.42 {
		t.Errorf("%.2f of the objects are two-coloured, want about a third", share)
	}
	if questions < 2*len(a) {
		t.Errorf("%d questions for %d scenes", questions, len(a))
	}

	j, err := a[0].JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back sceneJSON
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	o := back.Objects[0]
	area := 0
	for _, r := range o.Mask {
		area += r[1]
	}
	want := 0
	for _, on := range a[0].Objects[0].Mask {
		if on {
			want++
		}
	}
	if back.Caption != a[0].Caption || o.Shape != a[0].Objects[0].Shape || area != want || len(o.ColorMasks) != len(o.Colors) {
		t.Errorf("JSON round trip: %s", j)
	}
	for _, bad := range []ScenesOptions{{Size: 16}, {MinObjects: 3, MaxObjects: 2}, {MaxObjects: 9}} {
		if _, err := Scenes(1, 1, bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
	if _, err := Scenes(0, 1, ScenesOptions{}); err == nil {
		t.Error("0 scenes accepted")
	}
}

// TestBiased: the mark agrees with the label in the share asked (95%: squares show it, circles
// do not, with 5% exceptions), never touches the shape, and the same seed gives the same set.
func TestBiased(t *testing.T) {
	for _, agreement := range []float64{0.95, 0.5} {
		s := Biased(2000, 3, agreement)
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		agree := 0
		for i := range s.Len() {
			shown := ShowsBiasCue(s, i)
			if shown == (s.Labels[i] == 1) {
				agree++
			}
			if b := s.Boxes[i]; b.X0 < biasCue.X1 || b.Y0 < biasCue.Y1 {
				t.Fatalf("picture %d: the shape %v touches the mark's corner", i, b)
			}
		}
		if share := float64(agree) / 2000; share < agreement-0.03 || share > agreement+0.03 {
			t.Errorf("the mark agrees with the label in %.3f of the pictures, want %.2f", share, agreement)
		}
	}
	if a, b := Biased(5, 7, 0.9), Biased(5, 7, 0.9); !slices.Equal(a.Inputs, b.Inputs) || !slices.Equal(a.Labels, b.Labels) {
		t.Error("the same seed gave another set")
	}
}
