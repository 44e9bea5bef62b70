package heatmap

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestResize: half-pixel centres with edges repeated, as F.interpolate(align_corners=False).
func TestResize(t *testing.T) {
	got := Resize([]float32{0, 4}, 1, 2, 1, 4)
	if want := []float32{0, 1, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("1x2 -> 1x4: %v, want %v", got, want)
	}
	got = Resize([]float32{0, 4, 8, 12}, 2, 2, 4, 4) // rows 0..4 and 8..12
	if got[0] != 0 || got[15] != 12 || got[5] != 3 {
		t.Errorf("2x2 -> 4x4: %v", got)
	}
}

// TestResizeAlignCorners: the corners' centres aligned, as UpsamplingBilinear2d.
func TestResizeAlignCorners(t *testing.T) {
	got := ResizeAlignCorners([]float32{0, 3}, 1, 2, 1, 4)
	if want := []float32{0, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("1x2 -> 1x4: %v, want %v", got, want)
	}
}

// TestNormalize: min-max to [0, 1] as pytorch-grad-cam, zeros for a constant map.
func TestNormalize(t *testing.T) {
	got := Normalize([]float32{2, 4, 6})
	if got[0] != 0 || got[1] < 0.49 || got[1] > 0.51 || got[2] < 0.99 || got[2] > 1 {
		t.Errorf("%v", got)
	}
	if got := Normalize([]float32{5, 5}); got[0] != 0 || got[1] != 0 {
		t.Errorf("constant map: %v", got)
	}
}

// TestNormalizeMatchesOneChain: the min and max taken in four chains give the bits of one chain
// (pytorch-grad-cam's order), for lengths around the chains' width, negative maps and zeros of
// both signs.
func TestNormalizeMatchesOneChain(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 1000} {
		m := make([]float32, n)
		for i := range m {
			m[i] = float32(rng.NormFloat64()*3) - 2
			if rng.IntN(5) == 0 {
				m[i] = []float32{0, float32(math.Copysign(0, -1)), -7}[rng.IntN(3)]
			}
		}
		lo := m[0]
		for _, v := range m {
			lo = min(lo, v)
		}
		want := make([]float32, n)
		var hi float32
		for i, v := range m {
			want[i] = v - lo
			hi = max(hi, want[i])
		}
		for i := range want {
			want[i] /= hi + 1e-7
		}
		got := Normalize(m)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("length %d, value %d: %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

// TestLinearWeightsAntialias: shrinking 4 to 2, output 0 samples input coordinate 0.5. Without
// antialias it takes inputs 0 and 1 equally; with it (PIL's bilinear) the tent is twice as wide:
// 0.75, 0.75, 0.25 on inputs 0, 1, 2, renormalized (input -1 is outside).
func TestLinearWeightsAntialias(t *testing.T) {
	w := LinearWeights(2, 4, false)[0]
	if !slices.Equal(w, []float64{0.5, 0.5, 0, 0}) {
		t.Errorf("plain row %v", w)
	}
	w = LinearWeights(2, 4, true)[0]
	want := []float64{0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75, 0}
	for i := range w {
		if d := w[i] - want[i]; d > 1e-12 || d < -1e-12 {
			t.Errorf("antialiased row %v, want %v", w, want)
			break
		}
	}
}

// TestMeanNormalizedMatchesNormalize: the fused aggregation gives the bits of the loop it
// replaced (a sum from zero over the maps in order, divided by their count, then Normalize), for
// one to three maps with zeros of both signs, NaN and infinities among the values.
func TestMeanNormalizedMatchesNormalize(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	special := []float32{0, float32(math.Copysign(0, -1)), -7, float32(math.NaN()), float32(math.Inf(1))}
	for _, tc := range []struct{ maps, n int }{{1, 9}, {1, 1000}, {2, 5}, {3, 1000}} {
		for _, specials := range []bool{false, true} {
			maps := make([][]float32, tc.maps)
			for l := range maps {
				maps[l] = make([]float32, tc.n)
				for i := range maps[l] {
					maps[l][i] = float32(rng.NormFloat64()*3) - 2
					if rng.IntN(5) == 0 {
						maps[l][i] = special[rng.IntN(3)]
					}
					if specials && rng.IntN(50) == 0 {
						maps[l][i] = special[3+rng.IntN(2)]
					}
				}
			}
			sum := make([]float32, tc.n)
			for _, m := range maps {
				for i, v := range m {
					sum[i] += v
				}
			}
			for i := range sum {
				sum[i] /= float32(len(maps))
			}
			want, got := Normalize(sum), MeanNormalized(maps...)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d maps of %d (specials %v), value %d: %v, want %v", tc.maps, tc.n, specials, i, got[i], want[i])
				}
			}
		}
	}
	if MeanNormalized() != nil || MeanNormalized([]float32{}) != nil {
		t.Error("no maps or empty maps: want nil")
	}
}
