// A load client shaped like bombardier, which is not in Debian: bombardier drives servers with
// valyala/fasthttp's HostClient (configured as below: MaxConns, read and write timeouts, header
// names left as given), and sends a body either whole (Content-Length) or as a stream of unknown
// length, which fasthttp frames as chunked. Every response is checked; the exit code is 1 when any
// request failed, got a status outside 2xx, or an unexpected body.
//
// Usage: fasthttp_load -addr HOST:PORT -path URI [-method M] [-body B] [-stream] [-c N] [-n N]
// [-expect BODY]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server host:port")
	path := flag.String("path", "/plaintext", "request URI")
	method := flag.String("method", "GET", "request method")
	body := flag.String("body", "", "request body")
	stream := flag.Bool("stream", false, "send the body as a stream of unknown length (chunked)")
	connections := flag.Int("c", 125, "connections (bombardier's default)")
	requests := flag.Int64("n", 10000, "requests in all")
	expect := flag.String("expect", "", "the body every response must have (unchecked when empty)")
	flag.Parse()

	client := &fasthttp.HostClient{
		Addr:                          *addr,
		MaxConns:                      *connections,
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  10 * time.Second,
		DisableHeaderNamesNormalizing: true,
	}
	left := *requests
	var succeeded, failed int64
	var firstFailure atomic.Value
	fail := func(what string) {
		atomic.AddInt64(&failed, 1)
		firstFailure.CompareAndSwap(nil, what)
	}
	var wg sync.WaitGroup
	for i := 0; i < *connections; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&left, -1) >= 0 {
				req := fasthttp.AcquireRequest()
				resp := fasthttp.AcquireResponse()
				req.Header.SetHost(*addr)
				req.Header.SetMethod(*method)
				req.SetRequestURI(*path)
				if *stream {
					req.SetBodyStream(io.NopCloser(strings.NewReader(*body)), -1)
				} else {
					req.SetBodyString(*body)
				}
				if err := client.Do(req, resp); err != nil {
					fail("error: " + err.Error())
				} else if code := resp.StatusCode(); code < 200 || code > 299 {
					fail(fmt.Sprintf("status %d", code))
				} else if *expect != "" && string(resp.Body()) != *expect {
					fail(fmt.Sprintf("body of %d bytes, not the %d expected", len(resp.Body()), len(*expect)))
				} else {
					atomic.AddInt64(&succeeded, 1)
				}
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(resp)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("succeeded %d failed %d first failure: %v\n", succeeded, failed, firstFailure.Load())
	if failed > 0 || succeeded != *requests {
		os.Exit(1)
	}
}
