package service

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestChunkedRequestsCloseTheConnection: a request with both Content-Length
// and Transfer-Encoding: chunked (the request-smuggling shape of RFC 9112
// section 6.1), or with a chunked body at all, is answered and its
// connection closed, so nothing after it on the connection is read as a
// request. A plain request keeps its connection.
func TestChunkedRequestsCloseTheConnection(t *testing.T) {
	e := newTestEnv(t)
	body := `{"jurisdiction":"DE","declared":{"age":25}}`
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	tests := []struct {
		name      string
		headers   string
		body      string
		wantClose bool
	}{
		{"content-length only", fmt.Sprintf("Content-Length: %d\r\n", len(body)), body, false},
		{"both headers", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked, true},
		{"chunked only", "Transfer-Encoding: chunked\r\n", chunked, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "POST /v1/age-checks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n%s\r\n%s", e.key, tt.headers, tt.body)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
			if resp.Close != tt.wantClose {
				t.Errorf("Connection: close %t, want %t", resp.Close, tt.wantClose)
			}
			if tt.wantClose {
				if _, err := br.ReadByte(); err != io.EOF {
					t.Errorf("connection still open after the answer: %v", err)
				}
			}
		})
	}
}
