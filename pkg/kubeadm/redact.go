package kubeadm

import (
	"bytes"
	"io"
	"sync"

	"github.com/eksd-kata/eksd-kata/pkg/redact"
)

// lineSink receives kubeadm's output line by line: each raw line goes to
// raw (parsers that need the token), the redacted line to the log and,
// prefixed, to out. Stdout and stderr share one sink, so writes are locked.
type lineSink struct {
	prefix string
	out    io.Writer // may be nil
	raw    func(line string)

	mu      sync.Mutex
	partial []byte
	log     bytes.Buffer
}

func (s *lineSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

// Flush emits a last line that had no newline.
func (s *lineSink) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(string(s.partial))
		s.partial = nil
	}
}

func (s *lineSink) line(raw string) {
	if s.raw != nil {
		s.raw(raw)
	}
	red := redact.String(raw)
	s.log.WriteString(red + "\n")
	if s.out != nil {
		// A broken terminal must not fail kubeadm: the log file has it all.
		_, _ = io.WriteString(s.out, s.prefix+red+"\n")
	}
}

// Log returns the redacted output so far.
func (s *lineSink) Log() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.log.Bytes())
}
