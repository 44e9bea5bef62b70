//go:build !linux

package atomicfile

import (
	"errors"
	"io"
)

var errUnsupported = errors.New("O_TMPFILE not supported")

func writeUnnamed(string, func(io.Writer) error) error { return errUnsupported }
