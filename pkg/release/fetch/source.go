package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// ReadSource reads an input the operator names: a file on the machine
// eksd-kata runs on (never under --root: it is input, like --config) or an
// https URL (plain http only to loopback). what names it in errors ("release
// manifest"). A bad source, a missing file, a 4xx or more than max bytes is
// bad input (exit 2); network trouble after p's retries is a plain error.
func ReadSource(ctx context.Context, client *http.Client, source, what string, p Policy, max int) ([]byte, error) {
	if !strings.Contains(source, "://") {
		return readFile(source, what, max)
	}
	u, err := url.Parse(source)
	if err != nil || u.Host == "" {
		return nil, badinput.Wrap(fmt.Errorf("%s %q: not a URL", what, source))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && config.IsLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, badinput.Wrap(fmt.Errorf("%s %s: plain http is allowed only for loopback; use https:// or a file path", what, source))
	default:
		return nil, badinput.Wrap(fmt.Errorf("%s %s: scheme %q not supported (https:// or a file path)", what, source, u.Scheme))
	}
	var data []byte
	err = Get(ctx, client, source, p, func(r Response) error {
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(r.Body, int64(max)+1)); err != nil {
			return err
		}
		if buf.Len() > max {
			return &Permanent{Err: fmt.Errorf("GET %s: larger than %d MiB: not a %s", source, max>>20, what)}
		}
		data = buf.Bytes()
		return nil
	})
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 {
		return nil, badinput.Wrap(fmt.Errorf("%s: %w", what, err))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return data, nil
}

func readFile(path, what string, max int) ([]byte, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("%s %s: %w", what, path, err))
	}
	data, err := host.ReadInput(abs, int64(max))
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("%s: %w", what, err))
	}
	return data, nil
}
