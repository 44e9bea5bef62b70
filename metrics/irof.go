package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// IROF: the image's SLIC superpixels, removed in the map's order.

// superpixels segments an image, [C, H, W] row-major, into SLIC superpixels (Achanta et al.
// 2012) exactly as scikit-image 0.19's segmentation.slic does with its defaults (100 segments,
// compactness 10, 10 iterations, no smoothing, Lab colours for 3 channels, connectivity
// enforced) and start_label 0, as Quantus's IROF calls it: label per pixel (H*W) and the number of
// labels. TestPerturbationMetricsMatchQuantus compares the labels with scikit-image's.
func superpixels(values []float32, c, h, w int) (labels []int, n int) {
	// img_as_float, then scaled to [0, 1] by its range.
	img := make([]float64, h*w*c) // [H, W, C]
	lo, hi := math.Inf(1), math.Inf(-1)
	for ch := range c {
		for p := range h * w {
			v := float64(values[ch*h*w+p])
			img[p*c+ch] = v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for i := range img {
		img[i] -= lo
	}
	if hi-lo != 0 {
		for i := range img {
			img[i] /= hi - lo
		}
	}
	if c == 3 {
		rgbToLab(img)
	}
	const compactness, iterations = 10.0, 10
	for i := range img {
		img[i] *= 1 / compactness
	}
	// The grid of initial centroids (skimage.util.regular_grid over (1, H, W), 100 points).
	starts, steps := regularGrid([]int{1, h, w}, 100)
	var segs [][]float64 // [z, y, x, colour...]
	for y := starts[1]; y < h; y += steps[1] {
		for x := starts[2]; x < w; x += steps[2] {
			segs = append(segs, append([]float64{0, float64(y), float64(x)}, make([]float64, c)...))
		}
	}
	step := float64(slices.Max(steps))
	spatial := 1.0 / float64(float32(step*step))
	nearest := make([]int, h*w)
	for i := range nearest {
		nearest[i] = -1
	}
	dist := make([]float64, h*w)
	count := make([]int, len(segs))
	for range iterations {
		change := false
		for i := range dist {
			dist[i] = math.MaxFloat64
		}
		for k, s := range segs {
			cy, cx := s[1], s[2]
			y0, y1 := int(math.Max(cy-2*float64(steps[1]), 0)), int(math.Min(cy+2*float64(steps[1])+1, float64(h)))
			x0, x1 := int(math.Max(cx-2*float64(steps[2]), 0)), int(math.Min(cx+2*float64(steps[2])+1, float64(w)))
			dz := s[0] * s[0] // z = 0
			for y := y0; y < y1; y++ {
				dy := cy - float64(y)
				dy *= dy
				for x := x0; x < x1; x++ {
					dx := cx - float64(x)
					dx *= dx
					d := (dz + dy + dx) * spatial
					color := 0.0
					for ch := range c {
						t := img[(y*w+x)*c+ch] - s[3+ch]
						color += t * t
					}
					d += color
					if dist[y*w+x] > d {
						nearest[y*w+x], dist[y*w+x] = k, d
						change = true
					}
				}
			}
		}
		if !change {
			break
		}
		for k := range segs {
			count[k] = 0
			clear(segs[k])
		}
		for y := range h {
			for x := range w {
				k := nearest[y*w+x]
				count[k]++
				segs[k][1] += float64(y)
				segs[k][2] += float64(x)
				for ch := range c {
					segs[k][3+ch] += img[(y*w+x)*c+ch]
				}
			}
		}
		for k := range segs {
			for f := range segs[k] {
				segs[k][f] /= float64(count[k])
			}
		}
	}
	size := float64(h*w) / float64(len(segs))
	return connectedLabels(nearest, h, w, int(0.5*size), int(3*size))
}

// regularGrid is skimage.util.regular_grid: the starts and steps of a grid of about n points
// over an array of the given shape.
func regularGrid(shape []int, n int) (starts, steps []int) {
	nd := len(shape)
	order := make([]int, nd) // dimensions by size
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return shape[order[a]] < shape[order[b]] })
	sorted := make([]float64, nd)
	space := 1.0
	for i, d := range order {
		sorted[i] = float64(shape[d])
		space *= float64(shape[d])
	}
	starts, steps = make([]int, nd), make([]int, nd)
	if space <= float64(n) {
		for i := range steps {
			steps[i] = 1
		}
		return starts, steps
	}
	sizes := make([]float64, nd)
	for i := range sizes {
		sizes[i] = math.Pow(space/float64(n), 1/float64(nd))
	}
	smaller := func() bool {
		for i := range sizes {
			if sorted[i] < sizes[i] {
				return true
			}
		}
		return false
	}
	if smaller() {
		for dim := range nd {
			sizes[dim] = sorted[dim]
			rest := 1.0
			for _, v := range sorted[dim+1:] {
				rest *= v
			}
			for j := dim + 1; j < nd; j++ {
				sizes[j] = math.Pow(rest/float64(n), 1/float64(nd-dim-1))
			}
			if !smaller() {
				break
			}
		}
	}
	for i, d := range order {
		starts[d] = int(math.Floor(sizes[i] / 2))
		steps[d] = int(math.RoundToEven(sizes[i]))
	}
	return starts, steps
}

// connectedLabels is scikit-image's _enforce_label_connectivity_cython on one plane: labels
// renumbered from 0 in raster order of their connected pieces (4-connectivity), a piece smaller
// than minSize merged into the last labelled piece next to it, pieces grown to at most maxSize.
func connectedLabels(labels []int, h, w, minSize, maxSize int) ([]int, int) {
	out := make([]int, len(labels))
	for i := range out {
		out[i] = -1
	}
	coords := make([]int, max(maxSize, 1))
	next := 0
	for start := range labels {
		if out[start] > -1 {
			continue
		}
		adjacent, label := next, labels[start]
		out[start] = next
		coords[0] = start
		size, visited := 1, 0
	grow:
		for visited < size && size < maxSize {
			y, x := coords[visited]/w, coords[visited]%w
			for _, d := range [4][2]int{{0, 1}, {0, -1}, {1, 0}, {-1, 0}} {
				yy, xx := y+d[0], x+d[1]
				if xx < 0 || xx >= w || yy < 0 || yy >= h {
					continue
				}
				q := yy*w + xx
				if labels[q] == label && out[q] == -1 {
					out[q] = next
					coords[size] = q
					size++
					if size >= maxSize {
						break grow
					}
				} else if out[q] > -1 && out[q] != next {
					adjacent = out[q]
				}
			}
			visited++
		}
		if size < minSize {
			for _, q := range coords[:size] {
				out[q] = adjacent
			}
		} else {
			next++
		}
	}
	return out, next
}

// rgbToLab is skimage.color.rgb2lab (D65, 2° observer) in place on [..., 3] values in [0, 1].
func rgbToLab(v []float64) {
	m := [3][3]float64{{0.412453, 0.357580, 0.180423}, {0.212671, 0.715160, 0.072169}, {0.019334, 0.119193, 0.950227}}
	white := [3]float64{0.95047, 1., 1.08883}
	for p := 0; p < len(v); p += 3 {
		var rgb, xyz [3]float64
		for i := range 3 {
			c := v[p+i]
			if c > 0.04045 {
				c = math.Pow((c+0.055)/1.055, 2.4)
			} else {
				c /= 12.92
			}
			rgb[i] = c
		}
		for i := range 3 {
			xyz[i] = (rgb[0]*m[i][0] + rgb[1]*m[i][1] + rgb[2]*m[i][2]) / white[i]
			if xyz[i] > 0.008856 {
				xyz[i] = math.Cbrt(xyz[i])
			} else {
				xyz[i] = 7.787*xyz[i] + 16.0/116.0
			}
		}
		v[p] = 116*xyz[1] - 16
		v[p+1] = 500 * (xyz[0] - xyz[1])
		v[p+2] = 200 * (xyz[1] - xyz[2])
	}
}

// irofCurve is the class's probability relative to the original's after each superpixel is set
// to the mean of the image so far (float32, as NumPy's mean of a float32 image).
func (p *perturbed) irofCurve(d draws) ([]float64, error) {
	labels, n := superpixels(p.img.values, p.img.c, p.img.h, p.img.w)
	if n < 2 {
		return nil, fmt.Errorf("irof: the image has %d superpixel: nothing to order (is it constant?)", n)
	}
	mean := make([]float64, n)
	count := make([]int, n)
	for px, l := range labels {
		mean[l] += p.a[px]
		count[l]++
	}
	for l := range mean {
		mean[l] /= float64(count[l])
	}
	order := d.Perm(n)
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(mean[j], mean[i]) })
	// The images depend on each other (each step's mean is of the one before): made here in
	// order, scored in batches.
	images := make([][]float32, n)
	cur := slices.Clone(p.img.values)
	for i, l := range order {
		sum := 0.0
		for _, v := range cur {
			sum += float64(v)
		}
		fill := float32(sum / float64(len(cur)))
		for ch := range p.img.c {
			for px, pl := range labels {
				if pl == l {
					cur[ch*p.hw+px] = fill
				}
			}
		}
		images[i] = slices.Clone(cur)
	}
	s, err := p.score(n, func(i int, dst []float32) error {
		copy(dst, images[i])
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s[0] == 0 {
		return nil, fmt.Errorf("irof: the class's probability is 0: nothing to compare with")
	}
	curve := make([]float64, n)
	for i := range curve {
		curve[i] = s[i+1] / s[0]
	}
	return curve, nil
}

func (p *perturbed) irof(d draws) (float64, error) {
	c, err := p.irofCurve(d)
	if err != nil {
		return 0, err
	}
	return float64(len(c)) - trapezoids(c), nil
}
