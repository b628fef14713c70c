package maildir

import "sync"

// sizeAheadMin is how many messages without a size in their name make a
// listing size them in a goroutine of their own.
const sizeAheadMin = 64

// sizer gives the listing the size of each message whose name does not
// say it, in the order the listing asks (new/, then cur/). With many of
// them (the first login into a maildrop a delivery agent filled without
// S=/W= fields), a goroutine reads the files ahead while the listing
// moves the ones already sized: the reads overlap the renames.
type sizer struct {
	md      *maildrop
	buf     []byte
	results chan sizeResult // nil: size inline
	quit    chan struct{}
	wg      sync.WaitGroup
}

type sizeResult struct {
	dir, name string
	size      int64
	err       error
}

// sizeAhead returns the sizer for a listing of these names.
func (md *maildrop) sizeAhead(newNames, curNames []string) *sizer {
	s := &sizer{md: md}
	var todo []file
	for _, names := range []struct {
		dir   string
		names []string
	}{{dirNew, newNames}, {dirCur, curNames}} {
		for _, name := range names.names {
			if _, fields, _ := splitName(name); !hasWireSize(fields) {
				todo = append(todo, file{dir: names.dir, name: name})
			}
		}
	}
	if len(todo) < sizeAheadMin {
		return s
	}
	s.results, s.quit = make(chan sizeResult, 256), make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.results)
		buf := make([]byte, 32*1024)
		for _, f := range todo {
			size, err := wireSizeOf(md.dirOf(f.dir), f.name, buf)
			select {
			case s.results <- sizeResult{f.dir, f.name, size, err}:
			case <-s.quit:
				return
			}
		}
	}()
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
		if r, ok := <-s.results; ok && r.dir == dir && r.name == name {
			return r.size, r.err
		}
		s.stop() // out of step (never expected): size inline from now on
	}
	if s.buf == nil {
		s.buf = make([]byte, 32*1024)
	}
	return wireSizeOf(s.md.dirOf(dir), name, s.buf)
}

// stop ends the goroutine, if any, and waits for it.
func (s *sizer) stop() {
	if s.results == nil {
		return
	}
	close(s.quit)
	for range s.results { // let it see quit
	}
	s.wg.Wait()
	s.results = nil
}
