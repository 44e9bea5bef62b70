package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/internal/npy"
)

func explain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	class := fs.Int("class", -1, "class (output index) to explain; default: the top prediction")
	layer := fs.String("layer", "", "layer to explain (torchvision module path, or ONNX node output name); several, comma-separated, "+
		"are averaged; default: the model's last conv block")
	methodList := fs.String("method", "gradcam", "comma-separated methods: "+methodNames())
	out := fs.String("out", "", "output directory for METHOD.npy and METHOD.png")
	colormap := fs.String("colormap", "jet", "heatmap colormap: jet, turbo, viridis, inferno, gray, bwr")
	var opts methodFlags
	opts.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if err := opts.check(); err != nil {
		return err
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	methods, cm, err := drawing(*methodList, *colormap)
	if err != nil {
		return err
	}
	m, in, err := mf.load(stderr)
	if err != nil {
		return err
	}
	if *class < -1 || *class >= m.Outputs {
		return usageError{fmt.Errorf("--class %d out of range: %s has %d outputs, 0..%d", *class, m.Name, m.Outputs, m.Outputs-1)}
	}
	var layers []string
	for _, l := range strings.Split(*layer, ",") {
		if l = strings.TrimSpace(l); l != "" {
			layers = append(layers, l)
		}
	}
	req := opts.request(in.tensor.Shape().Dimensions[1:], in.transform)
	req.Methods, req.Classes, req.Layers = methods, []int{*class}, layers
	exps, err := gradcam.New(m).Explain(in.tensor, req)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ex := exps[0]
	if ex.SingleOutput {
		fmt.Fprintf(stdout, "output %d (%s) = %.4f\n", ex.Class, ex.Label, ex.Logit)
	} else {
		fmt.Fprintf(stdout, "class %d (%s), probability %.4f\n", ex.Class, ex.Label, ex.Probability)
	}
	title := fmt.Sprintf("%s: %s (%d), p=%.3f", m.Name, ex.Label, ex.Class, ex.Probability)
	if ex.SingleOutput {
		title = fmt.Sprintf("%s: %s = %.3f", m.Name, cmp.Or(ex.Label, "output"), ex.Logit)
	}
	return writeMaps(*out, ex, methods, in.images[0], filepath.Base(mf.image), title, cm, stdout)
}

// writeMaps writes each method's map of an explanation into dir (METHOD.npy, METHOD_lowres.npy
// for the CAM family, METHOD.png over the image) and figure.png (the image, then every map),
// printing METHOD<TAB>PNG lines and the figure's.
func writeMaps(dir string, ex *gradcam.Explanation, methods []gradcam.Method, img *image.RGBA, caption, title string,
	cm render.Colormap, stdout io.Writer) error {
	grid := &render.Grid{Title: title, Rows: [][]render.Cell{{{Image: img, Caption: caption}}}}
	for _, method := range methods {
		mp := ex.Maps[method]
		if err := writeMap(dir, string(method), mp.Values, mp.Shape); err != nil {
			return err
		}
		if mp.LowRes != nil {
			if err := writeMap(dir, string(method)+"_lowres", mp.LowRes, mp.LowResShape); err != nil {
				return err
			}
		}
		pic, err := mp.Picture(img, cm, 0.5)
		if err != nil {
			return err
		}
		if err := writePNG(filepath.Join(dir, string(method)+".png"), pic); err != nil {
			return err
		}
		grid.Rows[0] = append(grid.Rows[0], render.Cell{Image: pic, Caption: method.Title()})
		note := ""
		if mp.AllZero {
			note = " (all zero: nothing in this layer supports the class)"
		}
		fmt.Fprintf(stdout, "%s\t%s%s\n", method, filepath.Join(dir, string(method)+".png"), note)
	}
	fig, err := grid.Render()
	if err != nil {
		return err
	}
	if err := writePNG(filepath.Join(dir, "figure.png"), fig); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "figure\t%s\n", filepath.Join(dir, "figure.png"))
	return nil
}

// writeMap writes the map as DIR/NAME.npy, atomically.
func writeMap(dir, name string, v []float32, shape []int) error {
	return npy.Write(filepath.Join(dir, name+".npy"), v, shape)
}

// writePNG writes an image as PNG, atomically: an interrupted run leaves the whole file or none.
func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

// methodNames lists the methods --method takes.
func methodNames() string {
	all := gradcam.Methods()
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}
