package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// errRemote is returned for a target that is not on this machine.
var errRemote = errors.New("load tests may only target your own hosts; this one is not loopback (127.0.0.0/8, ::1, localhost): pass --allow-remote if it is yours")

// checkTarget parses a target URL: http or https, a host, no user info,
// query or fragment. Unless allowRemote, the host must be loopback: a
// literal 127.0.0.0/8 or ::1 address, or the name localhost.
func checkTarget(raw string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target %q: the scheme must be http or https", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("target %q: no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("target %q: only scheme://host[:port][/base-path] is accepted", raw)
	}
	if !allowRemote && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("target %q: %w", raw, errRemote)
	}
	return u, nil
}

// isLoopbackHost reports whether host is a loopback IP literal or
// "localhost" (which the resolver must map to loopback; dialLoopbackOnly
// checks what it actually connects to).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// dialLoopbackOnly is a net.Dialer Control function that refuses to
// connect anywhere but a loopback address: the last line of the guard,
// whatever a name resolves to.
func dialLoopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("dial %s %s: %w", network, address, errRemote)
	}
	return nil
}
