package main

import (
	"errors"
	"testing"
)

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		target      string
		allowRemote bool
		wantErr     error // nil: accepted; errRemote: refused as remote; errAny: refused otherwise
	}{
		{"http://127.0.0.1:8080", false, nil},
		{"http://127.9.8.7", false, nil},
		{"http://[::1]:8080/", false, nil},
		{"http://[::ffff:127.0.0.1]:8080", false, nil},
		{"http://localhost:8080", false, nil},
		{"https://LOCALHOST.:8443/base", false, nil},
		{"http://10.0.0.1", false, errRemote},
		{"http://example.com", false, errRemote},
		{"http://localhost.example.com", false, errRemote},
		{"http://127.0.0.1.nip.io", false, errRemote},
		{"http://[::2]", false, errRemote},
		{"http://0.0.0.0:8080", false, errRemote},
		{"http://10.0.0.1", true, nil},
		{"http://example.com", true, nil},
		{"ftp://127.0.0.1", false, errAny},
		{"127.0.0.1:8080", false, errAny},
		{"http://user:pw@127.0.0.1", false, errAny},
		{"http://127.0.0.1/?q=1", false, errAny},
		{"http://", false, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			_, err := checkTarget(tt.target, tt.allowRemote)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr != nil && err == nil:
				t.Errorf("accepted, want refused")
			case tt.wantErr == errRemote && !errors.Is(err, errRemote):
				t.Errorf("err = %v, want the remote refusal", err)
			}
		})
	}
}

// errAny marks a case refused for a reason other than being remote.
var errAny = errors.New("any error")

func TestDialLoopbackOnly(t *testing.T) {
	tests := []struct {
		address string
		ok      bool
	}{
		{"127.0.0.1:80", true},
		{"127.255.0.1:80", true},
		{"[::1]:80", true},
		{"10.0.0.1:80", false},
		{"93.184.216.34:443", false},
		{"[2001:db8::1]:80", false},
		{"nonsense", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			if err := dialLoopbackOnly("tcp", tt.address, nil); (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
