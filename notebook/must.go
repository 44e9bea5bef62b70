package notebook

import (
	"os"

	"github.com/janpfeifer/gonb/gonbui"
)

// Must returns v, or, when err is not nil, shows err in the cell as one red line (Error) and
// stops the cell's run: what a cell does with a step it cannot go on without. Outside a notebook
// it panics with err.
func Must[T any](v T, err error) T {
	stopOn(err)
	return v
}

// Must2 is Must for a call that returns two values and an error.
func Must2[A, B any](a A, b B, err error) (A, B) {
	stopOn(err)
	return a, b
}

// stopOn stops the cell on an error, after showing it.
func stopOn(err error) {
	if err == nil {
		return
	}
	if !gonbui.IsNotebook {
		panic(err)
	}
	Error(err) // waits until GoNB has it, so the error shows before the program ends
	os.Exit(1)
}
