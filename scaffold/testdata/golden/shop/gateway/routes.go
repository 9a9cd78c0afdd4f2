package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Route sends the requests under Prefix to Upstream, with Prefix stripped.
// MSX_ROUTES holds a JSON list of them:
//
//	[{"name":"orders","prefix":"/api/orders/","upstream":"http://orders:8081","protected":false}]
//
// A service that runs several replicas lists each by its own address in
// replicas; the gateway spreads requests over them (replicas.go).
type Route struct {
	Name      string   `json:"name"`
	Prefix    string   `json:"prefix"`
	Upstream  string   `json:"upstream"`
	Protected bool     `json:"protected"`
	Replicas  []string `json:"replicas,omitempty"`
}

// parseRoutes reads and checks a route table, sorted longest prefix first
// so that the most specific route wins.
func parseRoutes(s string) ([]Route, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var routes []Route
	if err := dec.Decode(&routes); err != nil {
		return nil, fmt.Errorf("MSX_ROUTES: not a JSON list of routes: %w", err)
	}
	seen := map[string]bool{}
	for i, rt := range routes {
		if rt.Name == "" {
			return nil, fmt.Errorf("MSX_ROUTES: route %d has no name", i)
		}
		if !strings.HasPrefix(rt.Prefix, "/") || !strings.HasSuffix(rt.Prefix, "/") || path.Clean(rt.Prefix)+"/" != rt.Prefix {
			return nil, fmt.Errorf("MSX_ROUTES: route %s: prefix %q must be a clean path that starts and ends with /", rt.Name, rt.Prefix)
		}
		if seen[rt.Prefix] {
			return nil, fmt.Errorf("MSX_ROUTES: prefix %q appears twice", rt.Prefix)
		}
		seen[rt.Prefix] = true
		u, err := url.Parse(rt.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("MSX_ROUTES: route %s: upstream %q must be an http(s) URL such as http://orders:8081", rt.Name, rt.Upstream)
		}
		for _, r := range rt.Replicas {
			ru, err := url.Parse(r)
			if err != nil || ru.Scheme != u.Scheme || ru.Host == "" || (ru.Path != "" && ru.Path != "/") || ru.RawQuery != "" || ru.Fragment != "" || ru.User != nil {
				return nil, fmt.Errorf("MSX_ROUTES: route %s: replica %q must be a %s URL with a host alone, such as %s://orders-2:8081", rt.Name, r, u.Scheme, u.Scheme)
			}
		}
	}
	sort.SliceStable(routes, func(i, j int) bool { return len(routes[i].Prefix) > len(routes[j].Prefix) })
	return routes, nil
}

// cleanPath normalises a request path once, so that routing, authorisation
// and forwarding all see the same path: no "..", no "//", no "." elements.
// A trailing slash is kept, because /items/ and /items can differ.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// match reports whether the clean path p falls under prefix, and the rest
// of the path to forward: /api/orders/items/1 under /api/orders/ is
// /items/1, and /api/orders itself is /.
func match(prefix, p string) (rest string, ok bool) {
	if p == strings.TrimSuffix(prefix, "/") {
		return "/", true
	}
	if strings.HasPrefix(p, prefix) {
		return p[len(prefix)-1:], true // the prefix's final "/" and the rest: no copy
	}
	return "", false
}
