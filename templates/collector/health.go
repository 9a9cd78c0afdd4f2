package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// healthcheckArg makes the collector ask its own /healthz and exit 0 when
// it answers: "collector healthcheck" is the container's health check, as
// the generated programs' is, because a FROM scratch image has no shell
// and no curl to run one.
const healthcheckArg = "healthcheck"

// checkSelf asks the running collector's /healthz on LISTEN_ADDR's port
// and returns the process exit code.
func checkSelf(listen string) int {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		fmt.Fprintln(os.Stderr, "healthcheck: set LISTEN_ADDR to host:port")
		return 1
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}
