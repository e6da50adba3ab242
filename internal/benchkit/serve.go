package benchkit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keycare/keycare/api"
)

// Serve serves h on 127.0.0.1 with the http.Server settings of `keycare
// serve` and returns its base URL and a function that shuts it down.
func Serve(h http.Handler, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := api.HTTPServer(h, log)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// Hello serves the baseline every load tool measures beside Keycare: a bare
// echo server answering GET /hello with "hello", timed like the API.
func Hello(log *slog.Logger) (h *TimedHandler, url string, stop func(), err error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/hello", func(c echo.Context) error { return c.String(http.StatusOK, "hello") })
	h = NewTimedHandler(e)
	url, stop, err = Serve(h, log)
	return h, url, stop, err
}

// Client is the load generator's HTTP client: keep-alive connections to one
// host without limit, no compression, no HTTP/2.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 0, MaxIdleConnsPerHost: 10000, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute,
		DisableCompression: true, ForceAttemptHTTP2: false,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// Check sends r and hands the body of its 200 answer to verify; any other
// status is an error carrying the body.
func Check(ctx context.Context, c *http.Client, r *http.Request, verify func([]byte) error) error {
	resp, err := c.Do(r.WithContext(ctx))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return verify(b)
}
