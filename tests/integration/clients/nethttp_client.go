// Drives harrier-server with Go's net/http client (standard library only), as Go services call
// it: one Transport, so requests reuse a keep-alive connection. Every request is checked, and
// so is how the client got there: the connection reused, the interim 100 seen for
// Expect: 100-continue. Prints one line per failure; exit code 1 when any.
//
// Usage: nethttp_client -url http://HOST:PORT
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"time"
)

type check struct {
	name       string
	method     string
	path       string
	body       string
	chunked    bool // unknown length: net/http frames it as chunked
	expect100  bool
	wantStatus int
	wantBody   string
}

func main() {
	base := flag.String("url", "http://127.0.0.1:5000", "server URL")
	flag.Parse()
	transport := &http.Transport{MaxIdleConnsPerHost: 1, ExpectContinueTimeout: 5 * time.Second}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	checks := []check{
		{name: "GET", method: "GET", path: "/plaintext", wantStatus: 200, wantBody: "Hello, World!"},
		{name: "JSON", method: "GET", path: "/json", wantStatus: 200,
			wantBody: `{"message":"Hello, World!"}`},
		{name: "POST with Content-Length", method: "POST", path: "/echo", body: big,
			wantStatus: 200, wantBody: big},
		{name: "POST chunked", method: "POST", path: "/echo", body: big, chunked: true,
			wantStatus: 200, wantBody: big},
		{name: "POST with Expect: 100-continue", method: "POST", path: "/echo", body: big,
			expect100: true, wantStatus: 200, wantBody: big},
		{name: "HEAD", method: "HEAD", path: "/plaintext", wantStatus: 200, wantBody: ""},
		{name: "404", method: "GET", path: "/no/such/route", wantStatus: 404},
		{name: "GET after the 404", method: "GET", path: "/plaintext", wantStatus: 200,
			wantBody: "Hello, World!"},
		// net/http sends a URL's query as it is given, non-ASCII unencoded.
		{name: "GET with raw UTF-8 in the query", method: "GET", path: "/plaintext?q=日本",
			wantStatus: 200, wantBody: "Hello, World!"},
	}
	failures := 0
	fail := func(format string, args ...any) {
		failures++
		fmt.Printf(format+"\n", args...)
	}
	for round := 0; round < 3; round++ {
		for _, c := range checks {
			var body io.Reader
			if c.body != "" {
				body = bytes.NewReader([]byte(c.body))
				if c.chunked {
					body = io.MultiReader(body) // hides the length from net/http
				}
			}
			req, err := http.NewRequest(c.method, *base+c.path, body)
			if err != nil {
				fail("%s: %v", c.name, err)
				continue
			}
			req.Header.Set("Content-Type", "text/plain")
			if c.chunked {
				req.ContentLength = -1
			}
			if c.expect100 {
				req.Header.Set("Expect", "100-continue")
			}
			got100, reused := false, false
			trace := &httptrace.ClientTrace{
				Got100Continue: func() { got100 = true },
				GotConn:        func(info httptrace.GotConnInfo) { reused = info.Reused },
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			res, err := client.Do(req)
			if err != nil {
				fail("%s (round %d): %v", c.name, round, err)
				continue
			}
			got, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				fail("%s (round %d): reading the body: %v", c.name, round, err)
			}
			if res.StatusCode != c.wantStatus {
				fail("%s (round %d): status %d, want %d", c.name, round, res.StatusCode, c.wantStatus)
			}
			if c.wantStatus == 200 && string(got) != c.wantBody {
				fail("%s (round %d): body of %d bytes, want %d", c.name, round, len(got),
					len(c.wantBody))
			}
			if c.method == "HEAD" && res.ContentLength != int64(len("Hello, World!")) {
				fail("HEAD: Content-Length %d, want that of the GET", res.ContentLength)
			}
			if c.expect100 && !got100 {
				fail("%s (round %d): no interim 100 Continue", c.name, round)
			}
			if (round > 0 || c.name != "GET") && !reused {
				fail("%s (round %d): a new connection (keep-alive not kept)", c.name, round)
			}
		}
	}
	if failures > 0 {
		os.Exit(1)
	}
	fmt.Println("ok")
}
