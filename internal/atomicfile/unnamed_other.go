//go:build !linux

package atomicfile

import "errors"

var errUnsupported = errors.New("O_TMPFILE not supported")

func writeUnnamed(string, []byte) error { return errUnsupported }
