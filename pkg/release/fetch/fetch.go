// Package fetch is the network boundary: the only code that downloads
// (the release manifest, the node binaries, Kata tarballs), over HTTP with
// bounded time and retries, since they come from a CDN that has bad
// moments (5xx, reset connections, bodies cut short). Everything else that
// touches the machine is in package host.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Policy bounds one download: how often it is tried and how long it may take.
type Policy struct {
	Attempts   int           // tries in all, first included
	Backoff    time.Duration // wait before the second try; doubles each time
	MaxBackoff time.Duration
	// Timeout bounds one attempt from request to last byte (0: none, for
	// large files on slow links; Stall still catches a dead transfer).
	Timeout time.Duration
	// Stall aborts an attempt when no byte arrived for this long.
	Stall time.Duration
}

// Default suits the manifest and binaries from distro.eks.amazonaws.com.
var Default = Policy{Attempts: 4, Backoff: time.Second, MaxBackoff: 15 * time.Second, Timeout: 15 * time.Minute, Stall: time.Minute}

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = Default.Attempts
	}
	if p.Backoff <= 0 {
		p.Backoff = Default.Backoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = Default.MaxBackoff
	}
	if p.Stall <= 0 {
		p.Stall = Default.Stall
	}
	return p
}

// StatusError is a response other than 200 OK.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.URL, e.Status) }

// Permanent marks an error of fn that a retry cannot fix (a checksum mismatch).
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

// Response is what fn receives: the body of a 200 and its announced size
// (-1 when unknown).
type Response struct {
	Body io.Reader
	Size int64
	URL  string
}

// Get fetches url and hands the body of a 200 response to fn. Transient
// failures (network errors, 5xx, 408, 429, a body cut short, a stall) are
// retried with exponential backoff; a 4xx other than 408/429, a *Permanent
// error of fn and the end of ctx are not. fn may be called once per attempt,
// so it must start afresh each time.
func Get(ctx context.Context, client *http.Client, url string, p Policy, fn func(Response) error) error {
	p = p.withDefaults()
	if client == nil {
		client = NewClient()
	}
	wait := p.Backoff
	var err error
	attempt := 1
	for ; ; attempt++ {
		err = once(ctx, client, url, p, fn)
		// An ended ctx is left to the select below so that the caller
		// always sees ctx's error, whether it ended mid-request or mid-wait.
		if err == nil || !Transient(err) || attempt >= p.Attempts {
			break
		}
		select {
		case <-time.After(jitter(wait)):
		case <-ctx.Done():
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		}
		wait = min(2*wait, p.MaxBackoff)
	}
	var pe *Permanent
	if errors.As(err, &pe) {
		return pe.Err
	}
	if err != nil && attempt > 1 {
		return fmt.Errorf("%w (after %d attempts)", err, attempt)
	}
	return err
}

func once(ctx context.Context, client *http.Client, url string, p Policy, fn func(Response) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if p.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, p.Timeout, &abortError{fmt.Sprintf("GET %s: not complete within %s", url, p.Timeout)})
		defer stop()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &Permanent{Err: fmt.Errorf("GET %s: %w", url, err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return causeOr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{URL: url, Code: resp.StatusCode, Status: resp.Status}
	}
	body := newWatchdog(resp.Body, p.Stall, func() {
		cancel(&abortError{fmt.Sprintf("GET %s: no data for %s", url, p.Stall)})
	})
	defer body.stop()
	if err := fn(Response{Body: body, Size: resp.ContentLength, URL: url}); err != nil {
		return causeOr(ctx, err)
	}
	return nil
}

// causeOr prefers the reason our own context ended (a stall, the attempt
// timeout) over the bare "context canceled" the transport reports.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(err, c) {
		var pe *Permanent
		if errors.As(err, &pe) {
			return err
		}
		return fmt.Errorf("%w: %w", c, err)
	}
	return err
}
