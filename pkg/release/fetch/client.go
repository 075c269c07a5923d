package fetch

import (
	"net"
	"net/http"
	"time"
)

// NewClient returns a client whose connection set-up is bounded; the
// transfer itself is bounded by Policy (Timeout, Stall) because binaries
// of 100 MB on a slow link need longer than any fixed client timeout.
func NewClient() *http.Client {
	return &http.Client{Transport: NewTransport()}
}

// NewTransport is the HTTP transport of every download, container
// registries' included: the system's CAs and proxy, and bounded connection
// set-up and wait for an answer.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          10,
	}
}
