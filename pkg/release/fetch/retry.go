package fetch

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"
)

// abortError is why we cut an attempt short ourselves: a stall or the
// attempt timeout. Another attempt may fare better.
type abortError struct{ msg string }

func (e *abortError) Error() string { return e.msg }

// Transient reports whether another attempt could succeed.
func Transient(err error) bool {
	var pe *Permanent
	if errors.As(err, &pe) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests
	}
	var ae *abortError
	var ne net.Error
	switch {
	case errors.As(err, &ae),
		errors.Is(err, io.ErrUnexpectedEOF), // body shorter than Content-Length
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne) && ne.Timeout():
		return true
	}
	// Other transport failures (TLS handshake cut, server closed early)
	// surface as *net.OpError or *url.Error around io.EOF.
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.EOF)
}

// jitter spreads retries of many nodes over [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}
