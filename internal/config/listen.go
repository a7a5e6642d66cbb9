package config

import (
	"fmt"
	"net"
	"strings"
)

// Listener is an address a process listens on, and the variable that sets it.
type Listener struct {
	Setting, Addr string
}

// listenErrors refuses addresses that would hand others what only this
// machine should have: an API that accepts tokens signed with the published
// development secret, or the profiler, which has no authentication.
func (c Config) listenErrors() []error {
	var errs []error
	if c.Development() && c.JWTSecret == DevJWTSecret && !loopback(c.HTTPAddr) {
		errs = append(errs, fmt.Errorf("CRIER_HTTP_ADDR=%s can be reached from other machines, and development mode accepts tokens "+
			"signed with the published development secret, so anyone there could sign an admin token: set CRIER_ENV=production, "+
			"or CRIER_JWT_SECRET to a secret of your own (openssl rand -hex 32), or bind 127.0.0.1:8080", c.HTTPAddr))
	}
	if c.DebugAddr != "" && !private(c.DebugAddr) {
		errs = append(errs, fmt.Errorf("CRIER_DEBUG_ADDR must be a loopback or private IP address such as 127.0.0.1:6060, "+
			"as the profiler has no authentication and shows memory contents, got %q", c.DebugAddr))
	}
	return errs
}

// ExposedInDevelopment lists, in development mode, the addresses this
// process listens on that other machines may reach: the API's (api), else
// the metrics', and the profiler's. Development mode relaxes checks meant
// for production, so serve says so loudly at start for each.
func (c Config) ExposedInDevelopment(api bool) []Listener {
	if !c.Development() {
		return nil
	}
	var all []Listener
	if api {
		all = append(all, Listener{"CRIER_HTTP_ADDR", c.HTTPAddr})
	} else if c.MetricsAddr != "" {
		all = append(all, Listener{"CRIER_METRICS_ADDR", c.MetricsAddr})
	}
	if c.DebugAddr != "" {
		all = append(all, Listener{"CRIER_DEBUG_ADDR", c.DebugAddr})
	}
	var exposed []Listener
	for _, l := range all {
		if !loopback(l.Addr) {
			exposed = append(exposed, l)
		}
	}
	return exposed
}

// loopback reports whether a listen address (host:port) is reachable from
// this machine only. An empty host (":8080") listens everywhere; a name
// other than localhost may resolve anywhere, so it counts as reachable.
func loopback(addr string) bool { return loopbackHost(hostOf(addr)) }

// private reports whether a listen address is on loopback or a private
// network (RFC 1918, RFC 4193).
func private(addr string) bool {
	host := hostOf(addr)
	ip := net.ParseIP(host)
	return loopbackHost(host) || (ip != nil && ip.IsPrivate())
}

func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback())
}

func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
