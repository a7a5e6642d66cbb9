package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// origins reads a comma-separated list of exact origins, each in the form
// corsOrigin gives it; nil when unset.
func (p *parser) origins(key string) []string {
	var origins []string
	for _, item := range p.list(key) {
		origin, err := corsOrigin(item)
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		origins = append(origins, origin)
	}
	return origins
}

// corsOrigin returns origin as browsers write it in the Origin header
// (lowercase scheme and host, no default port, no trailing slash), so the
// API may compare origins exactly. Anything but scheme://host[:port] is
// refused: requests carry credentials, so a pattern or a `*` would hand
// them to sites nobody listed.
func corsOrigin(origin string) (string, error) {
	refuse := fmt.Errorf("%q is not an exact origin: write scheme://host[:port] such as https://app.example.com, "+
		"with http or https, and no path, query, user, wildcard or *", origin)
	if strings.ContainsAny(origin, "*?#@\\ \t") {
		return "", refuse
	}
	u, err := url.Parse(strings.TrimSuffix(origin, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || !validHost(strings.ToLower(u.Hostname())) {
		return "", refuse
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", refuse
		}
		port = strconv.Itoa(n)
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]" // IPv6
	}
	return u.Scheme + "://" + host, nil
}

// validHost accepts an IP address or an ASCII DNS name (international
// names in their xn-- form, as browsers send them).
func validHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}
