package releasetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// Fault is what the server does instead of a clean 200 for one request.
type Fault int

const (
	OK        Fault = iota
	Status500       // 500 Internal Server Error
	Status404       // 404 Not Found
	Truncate        // Content-Length of the whole file, half of it sent
	Corrupt         // 200 with other bytes of the same length
)

// Server is an https test server of files with scripted faults and a
// count of requests per path.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string][]byte
	faults map[string][]Fault
	hits   map[string]int
}

// NewServer serves files (path → content) over TLS; use s.Client().
func NewServer(t testing.TB, files map[string][]byte) *Server {
	s := &Server{files: files, faults: map[string][]Fault{}, hits: map[string]int{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Fail makes the next requests of path fail, one fault each, in order.
func (s *Server) Fail(path string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], faults...)
}

// Hits counts the requests of path so far; "" counts all.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path != "" {
		return s.hits[path]
	}
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// Set replaces the content served at path.
func (s *Server) Set(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	data, ok := s.files[r.URL.Path]
	fault := OK
	if q := s.faults[r.URL.Path]; len(q) > 0 {
		fault, s.faults[r.URL.Path] = q[0], q[1:]
	}
	s.mu.Unlock()
	if !ok || fault == Status404 {
		http.NotFound(w, r)
		return
	}
	switch fault {
	case Status500:
		http.Error(w, "backend trouble", http.StatusInternalServerError)
	case Truncate:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data[:len(data)/2])
		// Returning with fewer bytes than announced makes net/http close
		// the connection: the client reads an unexpected EOF.
	case Corrupt:
		bad := append([]byte(nil), data...)
		bad[len(bad)/2] ^= 0xff
		_, _ = w.Write(bad)
	default:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		_, _ = w.Write(data)
	}
}
