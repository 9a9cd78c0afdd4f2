// Command graphql is the load generator of bench/graphql.sh: it sends the
// same request n times from c workers to one URL on loopback and prints
// the throughput and the latency percentiles as one tab-separated line:
// name, requests per second, p50 ms, p99 ms.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	name := flag.String("name", "", "what the line is named")
	target := flag.String("url", "", "the URL to send to; only 127.0.0.1")
	body := flag.String("body", "", "a JSON body to POST; GET without one")
	n := flag.Int("n", 20000, "requests in all")
	c := flag.Int("c", 16, "workers sending at once")
	flag.Parse()
	if err := run(*name, *target, *body, *n, *c); err != nil {
		fmt.Fprintln(os.Stderr, "graphql:", err)
		os.Exit(1)
	}
}

func run(name, target, body string, n, c int) error {
	u, err := url.Parse(target)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("the URL must be on 127.0.0.1, not %q", target)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: c}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	send := func() (time.Duration, error) {
		method, rd := http.MethodGet, io.Reader(nil)
		if body != "" {
			method, rd = http.MethodPost, bytes.NewReader([]byte(body))
		}
		req, _ := http.NewRequest(method, target, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s answered %d", target, resp.StatusCode)
		}
		return time.Since(start), err
	}
	// Warm the connections and the service's caches first.
	for range c * 10 {
		if _, err := send(); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, n)
	var next int
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				d, err := send()
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("%s\t%.0f\t%.2f\t%.2f\n", name, float64(n)/elapsed.Seconds(), ms(lat[n/2]), ms(lat[n*99/100]))
	return nil
}
