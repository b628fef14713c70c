package maildir

import (
	"runtime"
	"sync"
)

// sizeAheadMin is how many messages without a size in their name make a
// listing size them in goroutines of their own.
const sizeAheadMin = 64

// sizeAheadWorkers bounds the goroutines that size messages for one
// listing (at most one per CPU).
const sizeAheadWorkers = 4

// sizer gives the listing the size of each message whose name does not
// say it, in the order the listing asks (new/, then cur/). With many of
// them (the first login into a maildrop a delivery agent filled without
// S=/W= fields), goroutines read the files ahead, one per CPU up to
// sizeAheadWorkers, worker k taking every k-th message: the reads of one
// file's open, read and close overlap those of the next, and the listing
// takes the results in its order.
type sizer struct {
	md      *maildrop
	buf     []byte
	results []chan sizeResult // nil: size inline
	turn    int               // the worker whose result comes next
	quit    chan struct{}
	wg      sync.WaitGroup
}

type sizeResult struct {
	dir, name string
	size      int64
	err       error
}

// sizeAhead returns the sizer for a listing of these names; known holds
// the sizes the listing takes from an earlier one instead.
func (md *maildrop) sizeAhead(newNames, curNames []string, known map[string]int64) *sizer {
	s := &sizer{md: md}
	var todo []file
	for _, names := range []struct {
		dir   string
		names []string
	}{{dirNew, newNames}, {dirCur, curNames}} {
		for _, name := range names.names {
			if _, fields, _ := splitName(name); hasWireSize(fields) {
				continue
			}
			if _, ok := known[name]; !ok {
				todo = append(todo, file{dir: names.dir, name: name})
			}
		}
	}
	if len(todo) < sizeAheadMin {
		return s
	}
	workers := min(runtime.GOMAXPROCS(0), sizeAheadWorkers, len(todo)/sizeAheadMin)
	s.quit = make(chan struct{})
	s.results = make([]chan sizeResult, workers)
	for k := range workers {
		results := make(chan sizeResult, 128)
		s.results[k] = results
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(results)
			buf := make([]byte, 32*1024)
			for i := k; i < len(todo); i += workers {
				f := todo[i]
				size, err := wireSizeOf(md.dirOf(f.dir), f.name, buf)
				select {
				case results <- sizeResult{f.dir, f.name, size, err}:
				case <-s.quit:
					return
				}
			}
		}()
	}
	return s
}

// hasWireSize reports whether the fields carry a valid W= size.
func hasWireSize(fields string) bool {
	_, ok := wireSizeField(fields)
	return ok
}

// next returns the size of the message name in dir, the next one without
// a size in its name.
func (s *sizer) next(dir, name string) (int64, error) {
	if s.results != nil {
		r, ok := <-s.results[s.turn]
		s.turn = (s.turn + 1) % len(s.results)
		if ok && r.dir == dir && r.name == name {
			return r.size, r.err
		}
		s.stop() // out of step (never expected): size inline from now on
	}
	if s.buf == nil {
		s.buf = make([]byte, 32*1024)
	}
	return wireSizeOf(s.md.dirOf(dir), name, s.buf)
}

// stop ends the goroutines, if any, and waits for them.
func (s *sizer) stop() {
	if s.results == nil {
		return
	}
	close(s.quit)
	for _, results := range s.results {
		for range results { // let it see quit
		}
	}
	s.wg.Wait()
	s.results = nil
}
