package service

import (
	"mime"
	"strings"
	"testing"
)

// TestCheckContentType: the accepted media types, including the exact
// "application/json" the fast path takes, and the refused ones with their
// problem. Each answer is also checked against the parser-only rule the
// fast path must agree with.
func TestCheckContentType(t *testing.T) {
	tests := []struct {
		ct string
		ok bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"application/json; charset=UTF-8", true},
		{"Application/JSON", true},
		{"application/json ", true},
		{"application/json;", true},
		{"application/json; charset=latin1", false},
		{"application/jsonx", false},
		{"application/json\x00", false},
		{"text/plain", false},
		{"", false},
		{";", false},
	}
	for _, tt := range tests {
		p := checkContentType(tt.ct)
		if (p == nil) != tt.ok {
			t.Errorf("checkContentType(%q) = %v, want ok=%v", tt.ct, p, tt.ok)
		}
		if p != nil && (p.Status != 415 || p.Code != CodeUnsupportedMediaType || p.Type != problemTypePrefix+CodeUnsupportedMediaType) {
			t.Errorf("checkContentType(%q) = %+v", tt.ct, p)
		}
		if want := parserAccepts(tt.ct); (p == nil) != want {
			t.Errorf("checkContentType(%q) ok=%v, the parser alone says %v", tt.ct, p == nil, want)
		}
	}
}

// parserAccepts is the rule without the fast path.
func parserAccepts(ct string) bool {
	if ct == "" {
		return false
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}
