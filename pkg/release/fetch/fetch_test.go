package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var quick = Policy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Timeout: 5 * time.Second, Stall: 100 * time.Millisecond}

func TestTransient(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 503}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 404}, false},
		{&StatusError{Code: 403}, false},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{&Permanent{Err: io.ErrUnexpectedEOF}, false},
		{errors.New("checksum mismatch"), false},
	}
	for _, c := range cases {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestStalledBodyIsRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("abc"))
			w.(http.Flusher).Flush()
			<-r.Context().Done() // hang until the client gives up
			return
		}
		_, _ = w.Write([]byte("0123456789"))
	}))
	defer srv.Close()
	var got string
	err := Get(context.Background(), srv.Client(), srv.URL, quick, func(r Response) error {
		b, err := io.ReadAll(r.Body)
		got = string(b)
		return err
	})
	if err != nil || got != "0123456789" || hits.Load() != 2 {
		t.Fatalf("err %v, body %q, %d requests", err, got, hits.Load())
	}
}

func TestPermanentErrorOfFnIsNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("x"))
	}))
	defer srv.Close()
	want := errors.New("bad checksum")
	err := Get(context.Background(), srv.Client(), srv.URL, quick, func(Response) error { return &Permanent{Err: want} })
	if !errors.Is(err, want) || hits.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, hits.Load())
	}
}

func TestCancelStopsRetries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	p := quick
	p.Attempts, p.Backoff, p.MaxBackoff = 10, time.Hour, time.Hour
	// Cancel once the first response is closed: Get is then between
	// attempts, which is where a cancel must end the retries.
	client := srv.Client()
	client.Transport = cancelOnClose{client.Transport, cancel}
	err := Get(ctx, client, srv.URL, p, func(Response) error { return nil })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "502") || hits.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, hits.Load())
	}
}

type cancelOnClose struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelOnClose) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		resp.Body = closeHook{resp.Body, c.cancel}
	}
	return resp, err
}

type closeHook struct {
	io.ReadCloser
	onClose func()
}

func (c closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.onClose()
	return err
}
