package sgemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gradcam-go/gradcam/internal/catch"
)

// The team: goroutines that run parallel's tasks beside its caller, kept between calls. A new
// goroutine per call costs its start and the wake-up of an idle core: 25 µs, more than the
// parallel half of an element-wise op over 100,000 values takes (BenchmarkParallel). A team
// member spins for a while after its last job, so that the next op finds it awake, then sleeps
// until given work. One call uses the team at a time; a call made while it is busy (from a
// task, or from another goroutine) starts goroutines of its own, as before.

// teamSpin is how long a member waits for its next job, awake, before it sleeps.
const teamSpin = 50 * time.Microsecond

// teamJob is one parallel call's tasks, shared by its caller and the members it enlisted.
type teamJob struct {
	fn       func(worker, task int)
	n        int
	next     atomic.Int64 // the next task to take
	pending  atomic.Int32 // members still on the job
	panicked atomic.Pointer[any]
}

// run takes tasks until none is left, as worker; a panic is recorded for the caller.
func (j *teamJob) run(worker int) {
	defer func() {
		if r := recover(); r != nil {
			j.panicked.CompareAndSwap(nil, &r)
		}
	}()
	for {
		t := int(j.next.Add(1) - 1)
		if t >= j.n {
			return
		}
		if worker != 0 && panicInWorkers.Load() {
			panic("sgemm: a worker panicked (forced by a test)")
		}
		j.fn(worker, t)
	}
}

// member is one goroutine of the team.
type member struct {
	work     atomic.Pointer[assignment]
	sleeping atomic.Bool
	wake     chan struct{} // buffered: a send never blocks
}

type assignment struct {
	job    *teamJob
	worker int
}

var team struct {
	busy    atomic.Bool
	mu      sync.Mutex // guards members' growth
	members []*member
}

// enlist returns k members, starting the missing ones.
func enlist(k int) []*member {
	team.mu.Lock()
	defer team.mu.Unlock()
	for len(team.members) < k {
		m := &member{wake: make(chan struct{}, 1)}
		team.members = append(team.members, m)
		go m.loop()
	}
	return team.members[:k]
}

func (m *member) loop() {
	for {
		since := time.Now()
		for spins := 0; ; spins++ {
			if a := m.work.Load(); a != nil {
				a.job.run(a.worker)
				m.work.Store(nil)
				a.job.pending.Add(-1)
				since = time.Now()
				continue
			}
			if spins%64 == 63 && time.Since(since) > teamSpin {
				break
			}
		}
		// Asleep until given work: the flag is set before the last look, and a caller sets
		// work before it reads the flag, so one of the two sees the other.
		m.sleeping.Store(true)
		if m.work.Load() == nil {
			<-m.wake
		}
		m.sleeping.Store(false)
	}
}

// give hands m a job as worker.
func (m *member) give(j *teamJob, worker int) {
	m.work.Store(&assignment{j, worker})
	if m.sleeping.Load() {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// teamParallel is parallel on the caller and w-1 members of the team; false, having run nothing,
// when the team is busy.
func teamParallel(w, n int, fn func(worker, task int)) bool {
	if !team.busy.CompareAndSwap(false, true) {
		return false
	}
	defer team.busy.Store(false)
	j := &teamJob{fn: fn, n: n}
	members := enlist(w - 1)
	j.pending.Store(int32(len(members)))
	for i, m := range members {
		m.give(j, i+1)
	}
	j.run(0)
	for spins := 0; j.pending.Load() > 0; spins++ {
		if spins > 1000 {
			runtime.Gosched()
		}
	}
	if p := j.panicked.Load(); p != nil {
		panic(*p)
	}
	return true
}

// spawnParallel is parallel on new goroutines (the team being busy).
func spawnParallel(w, n int, fn func(worker, task int)) {
	j := &teamJob{fn: fn, n: n}
	var g catch.Group // a panic in a worker continues on this goroutine, not the process's end
	for i := 1; i < w; i++ {
		g.Go(func() { j.run(i) })
	}
	g.Run(func() { j.run(0) })
	g.Wait()
	if p := j.panicked.Load(); p != nil {
		panic(*p)
	}
}
