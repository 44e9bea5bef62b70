package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// roadNeighbours are ROAD's imputation weights (Rong et al. 2022, NoisyLinearImputer): the
// 4-neighbours 1/6 each, the diagonals 1/12.
var roadNeighbours = [8]struct {
	dy, dx int
	w      float64
}{{1, 1, 1. / 12}, {0, 1, 1. / 6}, {-1, 1, 1. / 12}, {1, -1, 1. / 12}, {0, -1, 1. / 6}, {-1, -1, 1. / 12}, {1, 0, 1. / 6}, {-1, 0, 1. / 6}}

// imputeLinear fills the pixels where keep is false, in every channel of image ([C, H, W],
// changed in place), as ROAD's noisy linear imputer does: each removed pixel equals the
// weighted mean of its in-bounds neighbours (removed ones included, as unknowns), which is one
// sparse symmetric positive definite system per channel, solved here by preconditioned conjugate
// gradients to a relative residual of 1e-10 (the reference calls a direct sparse solver); then
// noise times N(0, 1) is added to each filled value. At least one pixel must be kept.
func imputeLinear(image []float32, c, h, w int, keep []bool, noise float64, r *rand.Rand) error {
	hw := h * w
	index := make([]int, hw) // pixel -> unknown number, or -1
	var unknowns []int
	for p := range hw {
		index[p] = -1
		if !keep[p] {
			index[p] = len(unknowns)
			unknowns = append(unknowns, p)
		}
	}
	n := len(unknowns)
	if n == 0 {
		return nil
	}
	if n == hw {
		return fmt.Errorf("ROAD imputation: every pixel is removed, nothing is left to impute from (is the map constant?)")
	}
	// The system M x = rhs: M_ii = sum of in-bounds neighbour weights, M_ij = -w for removed
	// neighbours j; rhs_i = sum of w * value over kept neighbours.
	type edge struct {
		j int
		w float64
	}
	diag := make([]float64, n)
	edges := make([][]edge, n)
	known := make([][]edge, n) // kept neighbours: pixel index and weight
	for i, p := range unknowns {
		y, x := p/w, p%w
		for _, nb := range roadNeighbours {
			ny, nx := y+nb.dy, x+nb.dx
			if ny < 0 || nx < 0 || ny >= h || nx >= w {
				continue
			}
			diag[i] += nb.w
			q := ny*w + nx
			if index[q] >= 0 {
				edges[i] = append(edges[i], edge{index[q], nb.w})
			} else {
				known[i] = append(known[i], edge{q, nb.w})
			}
		}
	}
	apply := func(dst, v []float64) {
		for i := range n {
			s := diag[i] * v[i]
			for _, e := range edges[i] {
				s -= e.w * v[e.j]
			}
			dst[i] = s
		}
	}
	rhs, x := make([]float64, n), make([]float64, n)
	res, z, dir, q := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for ch := range c {
		plane := image[ch*hw : (ch+1)*hw]
		var norm float64
		for i := range n {
			rhs[i] = 0
			for _, e := range known[i] {
				rhs[i] += e.w * float64(plane[e.j])
			}
			x[i] = rhs[i] / diag[i]
			norm += rhs[i] * rhs[i]
		}
		if err := conjugateGradients(apply, diag, rhs, x, res, z, dir, q, math.Sqrt(norm)*1e-10); err != nil {
			return err
		}
		for i, p := range unknowns {
			plane[p] = float32(x[i])
		}
	}
	if noise != 0 {
		for ch := range c {
			for _, p := range unknowns {
				image[ch*hw+p] += float32(noise * r.NormFloat64())
			}
		}
	}
	return nil
}

// conjugateGradients solves M x = b for a symmetric positive definite M given as apply, with
// the Jacobi preconditioner diag, starting from x; res, z, dir and q are scratch.
func conjugateGradients(apply func(dst, v []float64), diag, b, x, res, z, dir, q []float64, tol float64) error {
	n := len(b)
	apply(q, x)
	var rz float64
	for i := range n {
		res[i] = b[i] - q[i]
		z[i] = res[i] / diag[i]
		dir[i] = z[i]
		rz += res[i] * z[i]
	}
	for iter := 0; iter < 10*n+100; iter++ {
		var rr float64
		for i := range n {
			rr += res[i] * res[i]
		}
		if math.Sqrt(rr) <= tol {
			return nil
		}
		apply(q, dir)
		var dq float64
		for i := range n {
			dq += dir[i] * q[i]
		}
		if dq <= 0 {
			return fmt.Errorf("ROAD imputation: the linear system is singular")
		}
		alpha := rz / dq
		var rzNew float64
		for i := range n {
			x[i] += alpha * dir[i]
			res[i] -= alpha * q[i]
			z[i] = res[i] / diag[i]
			rzNew += res[i] * z[i]
		}
		beta := rzNew / rz
		rz = rzNew
		for i := range n {
			dir[i] = z[i] + beta*dir[i]
		}
	}
	return fmt.Errorf("ROAD imputation: conjugate gradients did not converge")
}
