package main

import (
	"net/http"
	"net/url"
	"sync/atomic"
)

// replicaSpreader sends each request to the next of a service's replicas
// in turn. It sits under the route's breaker, so that the route keeps one
// breaker and one retry policy whatever the number of replicas, and above
// the connection pool, which keeps idle connections per replica.
//
// Why not let DNS spread them: the service's name resolves to every
// replica, but a pooled keep-alive connection stays on the replica it
// first reached, so one client sending one request at a time would never
// see another.
type replicaSpreader struct {
	next  http.RoundTripper
	hosts []string // host:port of each replica
	turn  atomic.Uint64
}

// spread returns next itself for a service with one replica.
func spread(next http.RoundTripper, replicas []string) http.RoundTripper {
	if len(replicas) < 2 {
		return next
	}
	s := &replicaSpreader{next: next}
	for _, r := range replicas {
		u, _ := url.Parse(r) // checked by parseRoutes
		s.hosts = append(s.hosts, u.Host)
	}
	return s
}

func (s *replicaSpreader) RoundTrip(req *http.Request) (*http.Response, error) {
	// The upstream sees the service's name as the Host, whichever replica
	// answers.
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	first := s.turn.Add(1) - 1
	req.URL.Host = s.hosts[first%uint64(len(s.hosts))]
	res, err := s.next.RoundTrip(req)
	if err == nil || req.Context().Err() != nil || !replayable(req) {
		return res, err
	}
	// A replica that cannot be reached (stopped, restarting after a swap,
	// killed by msx fault) is not the service being down: a request that
	// may be sent twice tries the next replica once, and only a second
	// failure reaches the breaker.
	req.URL.Host = s.hosts[(first+1)%uint64(len(s.hosts))]
	return s.next.RoundTrip(req)
}
