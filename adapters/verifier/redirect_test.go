package verifier

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// TestCheckJWKSRedirect: every hop of a JWKS fetch must pass the jwks_url
// rule (https, or http on loopback only), a fetch that reached https never
// leaves it, and at most maxJWKSRedirects redirects are followed.
func TestCheckJWKSRedirect(t *testing.T) {
	tests := []struct {
		name string
		via  []string // the requests made so far, oldest first
		to   string
		ok   bool
		want string // in the error
	}{
		{"https to another https host", []string{"https://keys.example/jwks"}, "https://cdn.example/k.json", true, ""},
		{"loopback http to loopback http", []string{"http://127.0.0.1:8080/jwks"}, "http://localhost:9090/k", true, ""},
		{"loopback http to ipv6 loopback", []string{"http://127.0.0.1:8080/jwks"}, "http://[::1]:9090/k", true, ""},
		{"loopback http up to https", []string{"http://127.0.0.1:8080/jwks"}, "https://keys.example/k", true, ""},
		{"three redirects", []string{"https://a.example/1", "https://a.example/2", "https://a.example/3"}, "https://a.example/4", true, ""},

		{"https down to http on loopback", []string{"https://keys.example/jwks"}, "http://127.0.0.1/k", false, "leaves https"},
		{"https down to http on localhost", []string{"https://keys.example/jwks"}, "http://localhost:8080/k", false, "leaves https"},
		{"down to http after an upgrade", []string{"http://127.0.0.1:8080/jwks", "https://keys.example/k"}, "http://127.0.0.1:8080/k2", false, "leaves https"},
		{"loopback http to a remote name", []string{"http://127.0.0.1:8080/jwks"}, "http://example.invalid/k", false, "only allowed on loopback"},
		{"loopback http to a remote ip", []string{"http://127.0.0.1:8080/jwks"}, "http://192.0.2.1/k", false, "only allowed on loopback"},
		{"loopback http to a mapped remote ip", []string{"http://127.0.0.1:8080/jwks"}, "http://[::ffff:192.0.2.1]/k", false, "only allowed on loopback"},
		{"https to another scheme", []string{"https://keys.example/jwks"}, "ftp://keys.example/k", false, "leaves https"},
		{"loopback http to another scheme", []string{"http://127.0.0.1:8080/jwks"}, "file:///etc/passwd", false, "no host"},
		{"loopback http to a remote ftp", []string{"http://127.0.0.1:8080/jwks"}, "ftp://keys.example/k", false, "scheme must be https"},
		{"https to a url with credentials", []string{"https://keys.example/jwks"}, "https://u:secret@keys.example/k", false, "credentials"},
		{"a fourth redirect", []string{"https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"}, "https://a.example/5", false, "more than 3 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var via []*http.Request
			for _, u := range tt.via {
				via = append(via, newGet(t, u))
			}
			err := checkJWKSRedirect(newGet(t, tt.to), via)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tt.ok && err == nil:
				t.Fatal("followed")
			case !tt.ok && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q, want it to say %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the credentials: %v", err)
			}
		})
	}
}

func newGet(t *testing.T, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// hopServer is a real loopback endpoint that redirects each path in
// routes to its target, and serves the keys on /keys.
type hopServer struct {
	*httptest.Server
	routes    map[string]string // set before the first request
	keyServed atomic.Int64
	keys      []byte
}

func newHopServer(t *testing.T, tls bool, keys []byte) *hopServer {
	t.Helper()
	h := &hopServer{routes: map[string]string{}, keys: keys}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to, ok := h.routes[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if r.URL.Path == "/keys" {
			h.keyServed.Add(1)
			w.Header().Set("Content-Type", "application/jwk-set+json")
			_, _ = w.Write(h.keys)
			return
		}
		http.NotFound(w, r)
	})
	if tls {
		h.Server = httptest.NewTLSServer(handler)
	} else {
		h.Server = httptest.NewServer(handler)
	}
	t.Cleanup(h.Close)
	return h
}

// loopbackOnlyClient trusts the httptest certificate and dials loopback
// addresses only: asked for any other address, it fails the test and
// refuses, so a redirect that was followed where it must not be cannot
// reach the network.
func loopbackOnlyClient(t *testing.T, tlsSrv *httptest.Server) *http.Client {
	t.Helper()
	tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = nil
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Errorf("the JWKS fetch dialled %s", addr)
			return nil, errors.New("test: non-loopback address refused")
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// TestJWKSRedirects: a provider's JWKS fetch through real loopback
// servers follows allowed redirects and refuses the others before dialling
// their target, leaving the provider's evidence unverifiable.
func TestJWKSRedirects(t *testing.T) {
	key := newTestKey(t, "ed25519", "hop-1")
	keys := jwksOf(t, key)
	tests := []struct {
		name string
		// chain builds the servers and returns the jwks_url and the server
		// whose /keys must (or must not) be fetched.
		chain    func(t *testing.T) (start string, target *hopServer)
		accepted bool
	}{
		{"https to https", func(t *testing.T) (string, *hopServer) {
			a, b := newHopServer(t, true, keys), newHopServer(t, true, keys)
			a.routes["/jwks"] = b.URL + "/keys"
			return a.URL + "/jwks", b
		}, true},
		{"loopback http to loopback http", func(t *testing.T) (string, *hopServer) {
			a, b := newHopServer(t, false, keys), newHopServer(t, false, keys)
			a.routes["/jwks"] = strings.Replace(b.URL, "127.0.0.1", "localhost", 1) + "/keys"
			return a.URL + "/jwks", b
		}, true},
		{"three hops", func(t *testing.T) (string, *hopServer) {
			a := newHopServer(t, true, keys)
			a.routes["/jwks"], a.routes["/2"], a.routes["/3"] = "/2", "/3", a.URL+"/keys"
			return a.URL + "/jwks", a
		}, true},
		{"four hops", func(t *testing.T) (string, *hopServer) {
			a := newHopServer(t, true, keys)
			a.routes["/jwks"], a.routes["/2"], a.routes["/3"], a.routes["/4"] = "/2", "/3", "/4", "/keys"
			return a.URL + "/jwks", a
		}, false},
		{"https down to http on loopback", func(t *testing.T) (string, *hopServer) {
			a, b := newHopServer(t, true, keys), newHopServer(t, false, keys)
			a.routes["/jwks"] = b.URL + "/keys"
			return a.URL + "/jwks", b
		}, false},
		{"https down to http after https to https", func(t *testing.T) (string, *hopServer) {
			a, b, c := newHopServer(t, true, keys), newHopServer(t, true, keys), newHopServer(t, false, keys)
			a.routes["/jwks"], b.routes["/next"] = b.URL+"/next", c.URL+"/keys"
			return a.URL + "/jwks", c
		}, false},
		{"loopback http to a remote name", func(t *testing.T) (string, *hopServer) {
			a := newHopServer(t, false, keys)
			a.routes["/jwks"] = "http://example.invalid/keys"
			return a.URL + "/jwks", a
		}, false},
		{"loopback http to a remote ip", func(t *testing.T) (string, *hopServer) {
			a := newHopServer(t, false, keys)
			a.routes["/jwks"] = "http://192.0.2.1/keys"
			return a.URL + "/jwks", a
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tlsRef := httptest.NewTLSServer(http.NotFoundHandler()) // for its client's trust
			t.Cleanup(tlsRef.Close)
			start, target := tt.chain(t)
			f := &fixture{providers: []Provider{{
				ID: "remote", Types: []string{policy.EvidenceAgeEstimation}, Issuer: estIssuer,
				JWKSURL: start, Algorithms: []string{"EdDSA"}, Audience: testAudience,
				Timeout: 2 * time.Second, Refresh: time.Hour, Breaker: Breaker{Failures: 100, Open: time.Minute},
			}}}
			v := f.verifier(t, func(o *Options) {
				o.Replay = alwaysFresh{}
				o.HTTPClient = loopbackOnlyClient(t, tlsRef)
			})
			ev := verifyOne(v, policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "remote",
				Token: signJWS(t, key, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 30.0}))})
			if tt.accepted {
				if !ev.Accepted() || target.keyServed.Load() == 0 {
					t.Fatalf("evidence %s (%s), keys served %d times; want accepted", ev.Outcome, ev.Reason, target.keyServed.Load())
				}
				return
			}
			if ev.Outcome != policy.OutcomeUnverifiable || ev.Reason != ReasonUnverifiable {
				t.Errorf("evidence %s (%s); want unverifiable", ev.Outcome, ev.Reason)
			}
			if n := target.keyServed.Load(); n != 0 {
				t.Errorf("the refused hop's keys were fetched %d times", n)
			}
		})
	}
}
