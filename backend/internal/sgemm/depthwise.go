package sgemm

import "fmt"

// Depthwise3x3Channels is the channel block Depthwise3x3 computes: 16, and 0 where the CPU lacks
// the AVX-512 kernel.
func Depthwise3x3Channels() int {
	if available && hasAVX512 && mr == 12 {
		return 16
	}
	return 0
}

// Depthwise3x3 computes a 3x3 depthwise convolution over 16 channels of n output positions whose
// every tap lies inside the input, the 9 taps' weights held in registers: out[p*outStep + c] =
// sum over (ky, kx) of in[ky][p*step + kx*col + c] * k[(3*ky+kx)*16 + c], from +0 with fused
// multiply-adds in (ky, kx) order, MulAcc's bits tap after tap. in[ky] is input row ky at the
// first position's kx = 0 (offsets into data). It panics where an offset would reach outside
// the slices or the CPU lacks the kernel (Depthwise3x3Channels).
func Depthwise3x3(n int, data []float32, in [3]int, col, step int, k []float32, out []float32, outOff, outStep int) {
	if err := checkDepthwise3x3(n, data, in, col, step, k, out, outOff, outStep); err != nil {
		panic(err)
	}
	if n == 0 {
		return
	}
	depthwise3x3(n, &data[in[0]], &data[in[1]], &data[in[2]], col*4, step*4, &k[0], &out[outOff], outStep*4)
}

func checkDepthwise3x3(n int, data []float32, in [3]int, col, step int, k []float32, out []float32, outOff, outStep int) error {
	if Depthwise3x3Channels() == 0 {
		return fmt.Errorf("sgemm: no AVX-512 depthwise kernel on this CPU")
	}
	if n < 0 || col < 0 || step < 0 || outStep < 16 || len(k) < 9*16 {
		return fmt.Errorf("sgemm: depthwise over %d positions, steps %d, %d, %d, %d weights", n, col, step, outStep, len(k))
	}
	if n == 0 {
		return nil
	}
	for _, off := range in {
		if off < 0 || off+(n-1)*step+2*col+16 > len(data) {
			return fmt.Errorf("sgemm: depthwise input row at %d (%d positions, step %d) outside %d values", off, n, step, len(data))
		}
	}
	if outOff < 0 || outOff+(n-1)*outStep+16 > len(out) {
		return fmt.Errorf("sgemm: depthwise output at %d (%d positions, step %d) outside %d values", outOff, n, outStep, len(out))
	}
	return nil
}
