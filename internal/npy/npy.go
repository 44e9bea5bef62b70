// Package npy writes NumPy arrays (.npy, format 1.0): what the command line writes maps in and
// what reference scripts read.
package npy

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/gradcam-go/gradcam/internal/atomicfile"
)

// Encode returns a float32 array of the given shape as .npy bytes (little-endian, C order).
func Encode(v []float32, shape []int) []byte {
	dims := ""
	for _, d := range shape {
		dims += fmt.Sprintf("%d, ", d)
	}
	if len(shape) > 1 {
		dims = dims[:len(dims)-2]
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims)
	// Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	buf := make([]byte, 0, 10+len(header)+4*len(v))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	for _, x := range v {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	return buf
}

// Write writes a float32 array to path atomically: an interrupted write leaves the whole file or
// none.
func Write(path string, v []float32, shape []int) error {
	return atomicfile.Write(path, Encode(v, shape))
}
