package api

import (
	"net"
	"net/http/httptest"
	"testing"
)

// The client IP comes from X-Forwarded-For only when the request arrives
// from a configured proxy; anyone else's header is ignored.
func TestClientIPOnlyFromTrustedProxy(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("10.1.2.0/24")
	cases := []struct {
		name    string
		trusted []*net.IPNet
		peer    string
		xff     string
		want    string
	}{
		{"no proxy configured: header ignored", nil, "203.0.113.9:5000", "198.51.100.7", "203.0.113.9"},
		{"trusted proxy: header believed", []*net.IPNet{proxy}, "10.1.2.3:5000", "198.51.100.7", "198.51.100.7"},
		{"untrusted peer: header ignored", []*net.IPNet{proxy}, "203.0.113.9:5000", "198.51.100.7", "203.0.113.9"},
		{"spoofed chain: last untrusted hop wins", []*net.IPNet{proxy}, "10.1.2.3:5000", "1.1.1.1, 198.51.100.7", "198.51.100.7"},
		{"loopback is not trusted by default", []*net.IPNet{proxy}, "127.0.0.1:5000", "198.51.100.7", "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = c.peer
			req.Header.Set("X-Forwarded-For", c.xff)
			if got := ipExtractor(c.trusted)(req); got != c.want {
				t.Errorf("client ip = %s, want %s", got, c.want)
			}
		})
	}
}
