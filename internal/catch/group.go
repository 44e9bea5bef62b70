package catch

import "sync"

// Group runs work on several goroutines and carries a panic in any of them back to the goroutine
// that waits: a panic in a worker goroutine would otherwise end the process (in GoNB, the
// kernel), out of reach of the recover at the API boundary. The zero value is ready to use.
type Group struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	panicked any
}

// Go runs fn on a new goroutine.
func (g *Group) Go(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.Run(fn)
	}()
}

// Run runs fn on the calling goroutine, recording a panic as Go does, so that the caller's share
// of the work does not leave while the workers still run.
func (g *Group) Run(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			g.mu.Lock()
			if g.panicked == nil {
				g.panicked = r
			}
			g.mu.Unlock()
		}
	}()
	fn()
}

// Wait waits for every goroutine started by Go, then panics with the first panic any of them (or
// a Run) had: the panic continues on the waiting goroutine.
func (g *Group) Wait() {
	g.wg.Wait()
	if g.panicked != nil {
		panic(g.panicked)
	}
}
