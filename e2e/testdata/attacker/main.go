// Command attacker is the probe e2e/attacker_test.go runs as a container
// on a generated project's network: it plays one attack of issue 19 per
// run, as a container an attacker holds would, and prints what the target
// answered as one JSON object on stdout. It judges nothing: the test does.
//
//	attacker http METHOD URL [-H 'Name: value']... [-d BODY]
//	attacker gzipbomb URL      a gzip body of about 128 KiB that inflates to 32 MiB of OTLP JSON
//	attacker bigbody URL       a 31 MiB OTLP JSON body
//	attacker nats HOST:PORT SUBJECT PAYLOAD
//
// It is compiled with CGO_ENABLED=0 and packed alone into an image, so it
// uses the standard library only.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Result is what one attack got back.
type Result struct {
	Status int    `json:"status,omitempty"` // HTTP status
	Body   string `json:"body,omitempty"`   // its first bytes
	Error  string `json:"error,omitempty"`  // a transport error (connection refused, reset)
	// NATS: the server's answer to each step, +OK or -ERR '...', or the
	// error that ended the connection.
	Connect string `json:"connect,omitempty"`
	Pub     string `json:"pub,omitempty"`
	Sub     string `json:"sub,omitempty"`
	Sent    int    `json:"sent,omitempty"` // bytes of the body sent
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: attacker http|gzipbomb|bigbody|nats ...")
		os.Exit(2)
	}
	var r Result
	switch os.Args[1] {
	case "http":
		r = httpAttack(os.Args[2:])
	case "gzipbomb":
		body := otlpJSON(32 << 20)
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(body)
		w.Close()
		r = send("POST", os.Args[2], map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, z.Bytes())
	case "bigbody":
		r = send("POST", os.Args[2], map[string]string{"Content-Type": "application/json"}, otlpJSON(31<<20))
	case "nats":
		if len(os.Args) != 5 {
			fmt.Fprintln(os.Stderr, "usage: attacker nats HOST:PORT SUBJECT PAYLOAD")
			os.Exit(2)
		}
		r = natsAttack(os.Args[2], os.Args[3], os.Args[4])
	default:
		fmt.Fprintln(os.Stderr, "unknown attack", os.Args[1])
		os.Exit(2)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func httpAttack(args []string) Result {
	if len(args) < 2 {
		return Result{Error: "usage: http METHOD URL [-H 'Name: value']... [-d BODY]"}
	}
	method, url := args[0], args[1]
	headers := map[string]string{}
	var body []byte
	for i := 2; i+1 < len(args); i += 2 {
		switch args[i] {
		case "-H":
			k, v, _ := strings.Cut(args[i+1], ":")
			headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case "-d":
			body = []byte(args[i+1])
		}
	}
	return send(method, url, headers, body)
}

func send(method, url string, headers map[string]string, body []byte) Result {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return Result{Error: err.Error()}
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return Result{Error: err.Error(), Sent: len(body)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return Result{Status: resp.StatusCode, Body: string(b), Sent: len(body)}
}

// otlpJSON is an OTLP/JSON export request of about n bytes: one resource
// span holding as many small spans, each with attributes, as fit. Small
// objects are what a decoder into maps and interfaces pays most for.
func otlpJSON(n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 1024)
	b.WriteString(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"attacker"}}]},"scopeSpans":[{"spans":[`)
	span := `{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"x","kind":2,` +
		`"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"a","value":{"stringValue":"b"}},{"key":"c","value":{"intValue":"1"}}]}`
	for first := true; b.Len()+len(span)+8 < n; first = false {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(span)
	}
	b.WriteString(`]}]}]}`)
	return b.Bytes()
}

// natsAttack speaks the NATS client protocol without credentials: CONNECT
// (verbose, so that the server acknowledges each step), PUB a forged event
// on subject, SUB to every event. Each step records the server's answer.
func natsAttack(addr, subject, payload string) Result {
	var r Result
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	rd := bufio.NewReader(c)
	line := func() string {
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return "error: " + err.Error()
			}
			l = strings.TrimSpace(l)
			if l == "PING" {
				fmt.Fprint(c, "PONG\r\n")
				continue
			}
			if strings.HasPrefix(l, "INFO ") || l == "PONG" {
				continue
			}
			return l
		}
	}
	if info, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(info, "INFO ") {
		r.Error = fmt.Sprintf("no INFO from the server: %q %v", info, err)
		return r
	}
	fmt.Fprint(c, `CONNECT {"verbose":true,"pedantic":false,"name":"attacker","lang":"go","version":"0","protocol":1,"headers":true}`+"\r\n")
	if r.Connect = line(); !strings.HasPrefix(r.Connect, "+OK") {
		return r
	}
	// A NATS message with headers, as the generated publishers send: the
	// broker's de-duplication ID and the event's own fields.
	hdr := "NATS/1.0\r\nNats-Msg-Id: attacker-forged-1\r\n\r\n"
	fmt.Fprintf(c, "HPUB %s %d %d\r\n%s%s\r\n", subject, len(hdr), len(hdr)+len(payload), hdr, payload)
	r.Pub = line()
	fmt.Fprint(c, "SUB events.> 1\r\n")
	r.Sub = line()
	return r
}
