package data

import (
	"fmt"
	"math/rand/v2"
)

// Disks is a generated regression task with a known answer (Regression Activation Maps): RGB
// images of red and blue disks on noise, whose target is the red disks' total area as a
// percentage of the image. A network that solves it must look at the red disks and ignore the
// blue ones, so its maps can be scored against Red.
type Disks struct {
	*Set
	// Size is the images' side; Red[i] and Blue[i] mark image i's red and blue pixels (row-major).
	Size      int
	Red, Blue [][]bool
}

// GenerateDisks makes n images of size x size, deterministic from seed: noise in [0.25, 0.75] on
// each channel, then one to four blue and one to four red disks (radius 3 to size/6, drawn in a
// random order so either may cover the other), each colour with noise.
func GenerateDisks(n, size int, seed uint64) (*Disks, error) {
	if n < 1 || size < 16 {
		return nil, fmt.Errorf("disks: %d images of %dx%d: need at least one image of at least 16x16", n, size, size)
	}
	rng := rand.New(rand.NewPCG(seed, 0xd15c5))
	px := size * size
	d := &Disks{Size: size, Set: &Set{Name: fmt.Sprintf("disks-%d", seed), Shape: []int{3, size, size},
		Inputs: make([]float32, 0, n*3*px), Targets: make([]float32, n)}}
	for i := range n {
		img := make([]float32, 3*px)
		for j := range img {
			img[j] = 0.25 + 0.5*rng.Float32()
		}
		colour := make([]int8, px) // 0 background, 1 red, 2 blue
		type disk struct {
			x, y, r float64
			c       int8
		}
		var disks []disk
		for c, count := range []int{1 + rng.IntN(4), 1 + rng.IntN(4)} {
			for range count {
				r := 3 + rng.Float64()*float64(size/6-3)
				disks = append(disks, disk{r + rng.Float64()*(float64(size)-2*r), r + rng.Float64()*(float64(size)-2*r), r, int8(c + 1)})
			}
		}
		rng.Shuffle(len(disks), func(a, b int) { disks[a], disks[b] = disks[b], disks[a] })
		for _, k := range disks {
			for y := range size {
				for x := range size {
					dx, dy := float64(x)+0.5-k.x, float64(y)+0.5-k.y
					if dx*dx+dy*dy <= k.r*k.r {
						colour[y*size+x] = k.c
					}
				}
			}
		}
		red, blue := make([]bool, px), make([]bool, px)
		area := 0
		for p, c := range colour {
			if c == 0 {
				continue
			}
			rgb := [3]float32{0.85, 0.1, 0.1}
			if c == 2 {
				rgb = [3]float32{0.1, 0.1, 0.85}
				blue[p] = true
			} else {
				red[p] = true
				area++
			}
			for ch := range 3 {
				img[ch*px+p] = rgb[ch] + 0.1*(rng.Float32()-0.5)
			}
		}
		d.Inputs = append(d.Inputs, img...)
		d.Targets[i] = float32(100 * float64(area) / float64(px))
		d.Red, d.Blue = append(d.Red, red), append(d.Blue, blue)
	}
	return d, nil
}

// Share is the part of a non-negative map's mass (m: Size x Size, row-major) on image i's red
// disks and on its blue ones. An all-zero map has no mass: both are 0.
func (d *Disks) Share(i int, m []float32) (red, blue float64, err error) {
	if i < 0 || i >= len(d.Red) {
		return 0, 0, fmt.Errorf("disks: image %d out of range (%d images)", i, len(d.Red))
	}
	if len(m) != d.Size*d.Size {
		return 0, 0, fmt.Errorf("disks: a map of %d values for %dx%d images", len(m), d.Size, d.Size)
	}
	total := 0.0
	for p, v := range m {
		v := max(float64(v), 0)
		total += v
		if d.Red[i][p] {
			red += v
		} else if d.Blue[i][p] {
			blue += v
		}
	}
	if total == 0 {
		return 0, 0, nil
	}
	return red / total, blue / total, nil
}
