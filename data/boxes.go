package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/preprocess"
)

// BoxesHeader is the boxes file's optional first row.
const BoxesHeader = "image,class,x0,y0,x1,y1"

// BoxRow is one row of a boxes file: one object's box in its image.
type BoxRow struct {
	Line  int    // the row's line in the file, for errors
	Image string // the image's file name in the folder
	Class string // a class index, or a label of the model
	Box   Box    // in the original image's pixels, x1 and y1 exclusive
}

// ReadBoxes reads a boxes file: CSV rows image,class,x0,y0,x1,y1, the box in the original
// image's pixels with x1 and y1 exclusive (a box of a whole W x H image is 0,0,W,H; ILSVRC's
// xmin,ymin,xmax,ymax are written xmin,ymin,xmax+1,ymax+1), class an output index or a label of
// the model. An image may have several rows: several objects, or several boxes of one class. A
// first row equal to BoxesHeader is skipped. A malformed row is an error naming its line.
func ReadBoxes(r io.Reader) ([]BoxRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var rows []BoxRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("boxes file: %w", err)
		}
		if len(rows) == 0 && strings.Join(rec, ",") == BoxesHeader {
			continue
		}
		if len(rec) != 6 {
			return nil, fmt.Errorf("boxes file line %d: %d fields, want 6: %s", line, len(rec), BoxesHeader)
		}
		var v [4]int
		for i := range v {
			if v[i], err = strconv.Atoi(strings.TrimSpace(rec[2+i])); err != nil {
				return nil, fmt.Errorf("boxes file line %d: %s %q is not a whole number of pixels", line, strings.Split(BoxesHeader, ",")[2+i], rec[2+i])
			}
		}
		b := Box{v[0], v[1], v[2], v[3]}
		switch {
		case strings.TrimSpace(rec[0]) == "" || strings.TrimSpace(rec[1]) == "":
			return nil, fmt.Errorf("boxes file line %d: the image and the class are required", line)
		case b.X1 <= b.X0 || b.Y1 <= b.Y0 || b.X0 < 0 || b.Y0 < 0:
			return nil, fmt.Errorf("boxes file line %d: box %d,%d,%d,%d is empty or negative (want 0 <= x0 < x1, 0 <= y0 < y1)", line, b.X0, b.Y0, b.X1, b.Y1)
		}
		rows = append(rows, BoxRow{Line: line, Image: strings.TrimSpace(rec[0]), Class: strings.TrimSpace(rec[1]), Box: b})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("boxes file: no rows (want %s, one object a row)", BoxesHeader)
	}
	return rows, nil
}

// BoxedImages makes a localization set of the images of dir named in rows: one example per
// (image, class), labelled with the class (classIndex turns a row's class into an output
// index), its boxes mapped to the image the transform fits. A row whose image is not in dir or
// whose box leaves the image is an error naming the row.
func BoxedImages(dir string, rows []BoxRow, t preprocess.Transform, classIndex func(string) (int, error)) (*Set, error) {
	s := &Set{Name: filepath.Base(dir), Shape: []int{t.Channels, t.Height, t.Width}}
	type key struct {
		image string
		class int
	}
	index := map[key]int{}
	// Each image is read, fitted and normalized once; its classes share the values.
	type picture struct {
		size   image.Point
		values []float32
	}
	pictures := map[string]picture{}
	for _, r := range rows {
		class, err := classIndex(r.Class)
		if err != nil {
			return nil, fmt.Errorf("boxes file line %d: %w", r.Line, err)
		}
		pic, seen := pictures[r.Image]
		if !seen {
			path := filepath.Join(dir, r.Image)
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("boxes file line %d: image %s is not in %s", r.Line, r.Image, dir)
			}
			img, err := preprocess.LoadImage(path)
			if err != nil {
				return nil, fmt.Errorf("boxes file line %d: %w", r.Line, err)
			}
			x, err := t.Normalize(t.Fit(img))
			if err != nil {
				return nil, fmt.Errorf("boxes file line %d: %w", r.Line, err)
			}
			pic = picture{img.Bounds().Size(), tensors.MustCopyFlatData[float32](x)}
			x.FinalizeAll()
			pictures[r.Image] = pic
		}
		size := pic.size
		if r.Box.X1 > size.X || r.Box.Y1 > size.Y {
			return nil, fmt.Errorf("boxes file line %d: box %d,%d,%d,%d leaves the %dx%d image %s", r.Line, r.Box.X0, r.Box.Y0, r.Box.X1, r.Box.Y1,
				size.X, size.Y, r.Image)
		}
		fb := t.FitBox(r.Box.Rect(), size.X, size.Y)
		if fb.Empty() {
			return nil, fmt.Errorf("boxes file line %d: box %d,%d,%d,%d of %s is cut off by the center crop", r.Line, r.Box.X0, r.Box.Y0, r.Box.X1, r.Box.Y1, r.Image)
		}
		box := Box{fb.Min.X, fb.Min.Y, fb.Max.X, fb.Max.Y}
		k := key{r.Image, class}
		if i, ok := index[k]; ok {
			s.AllBoxes[i] = append(s.AllBoxes[i], box)
			continue
		}
		index[k] = len(s.Labels)
		s.Inputs = append(s.Inputs, pic.values...)
		s.Labels = append(s.Labels, int32(class))
		s.Boxes = append(s.Boxes, box)
		s.AllBoxes = append(s.AllBoxes, []Box{box})
		s.Images = append(s.Images, r.Image)
	}
	return s, s.Check()
}
