package main

import (
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/networking/pkg/ingress"
)

// Backend is one weighted target of a route: a Service port and the headers set on the way to it.
type Backend struct {
	Namespace     string
	Name          string
	Port          intstr.IntOrString
	Percent       int
	AppendHeaders map[string]string
}

// Route is one KIngress path: what a request must match and where it goes.
type Route struct {
	Ingress       types.NamespacedName
	Prefix        string            // path prefix; "" matches every path
	Headers       map[string]string // exact matches, canonical header names
	RewriteHost   string
	AppendHeaders map[string]string
	Backends      []Backend
	total         int // sum of the backends' percentages
}

// Table routes a request by listener, host, path and headers. It is immutable once built.
type Table struct {
	external map[string][]*Route // ExternalIP rules only
	local    map[string][]*Route // every rule
	// Generations maps each KIngress in the table to the generation the table was built from.
	Generations map[types.NamespacedName]int64
}

// BuildTable turns KIngresses into a routing table. Ingresses are taken in namespace/name order and
// within one ingress in spec order, so with overlapping hosts the first match is deterministic.
// Knative's probe paths (ingress.InsertProbe: a request carrying K-Network-Hash: override gets the
// ingress's hash instead) are inserted before each rule's own paths.
func BuildTable(ings []*v1alpha1.Ingress) *Table {
	sorted := append([]*v1alpha1.Ingress(nil), ings...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	t := &Table{
		external:    map[string][]*Route{},
		local:       map[string][]*Route{},
		Generations: map[types.NamespacedName]int64{},
	}
	for _, orig := range sorted {
		ing := orig.DeepCopy()
		if _, err := ingress.InsertProbe(ing); err != nil {
			continue // a rule without an http block: nothing routable
		}
		key := types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
		t.Generations[key] = ing.Generation
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			routes := make([]*Route, 0, len(rule.HTTP.Paths))
			for _, p := range rule.HTTP.Paths {
				routes = append(routes, newRoute(key, p))
			}
			for host := range ingress.ExpandedHosts(sets.New(rule.Hosts...)) {
				host = strings.ToLower(host)
				t.local[host] = append(t.local[host], routes...)
				if rule.Visibility != v1alpha1.IngressVisibilityClusterLocal {
					t.external[host] = append(t.external[host], routes...)
				}
			}
		}
	}
	return t
}

func newRoute(key types.NamespacedName, p v1alpha1.HTTPIngressPath) *Route {
	r := &Route{
		Ingress:       key,
		Prefix:        p.Path,
		RewriteHost:   p.RewriteHost,
		AppendHeaders: p.AppendHeaders,
		Headers:       make(map[string]string, len(p.Headers)),
	}
	for name, m := range p.Headers {
		r.Headers[http.CanonicalHeaderKey(name)] = m.Exact
	}
	for _, s := range p.Splits {
		pct := s.Percent
		if pct == 0 && len(p.Splits) == 1 {
			pct = 100 // Knative's defaulting: a lone split takes all traffic
		}
		r.Backends = append(r.Backends, Backend{
			Namespace:     s.ServiceNamespace,
			Name:          s.ServiceName,
			Port:          s.ServicePort,
			Percent:       pct,
			AppendHeaders: s.AppendHeaders,
		})
		r.total += pct
	}
	return r
}

// Match finds the first route for a request on the external or the local listener.
func (t *Table) Match(external bool, r *http.Request) *Route {
	hosts := t.local
	if external {
		hosts = t.external
	}
	for _, route := range hosts[hostOnly(r.Host)] {
		if route.matches(r) {
			return route
		}
	}
	return nil
}

func (route *Route) matches(r *http.Request) bool {
	if route.Prefix != "" && !strings.HasPrefix(r.URL.Path, route.Prefix) {
		return false
	}
	for name, want := range route.Headers {
		if r.Header.Get(name) != want {
			return false
		}
	}
	return len(route.Backends) > 0
}

// Pick chooses a backend with probability proportional to its percentage; roll is uniform in
// [0, 1). With no weights at all the first backend gets everything.
func (route *Route) Pick(roll float64) Backend {
	if route.total <= 0 {
		return route.Backends[0]
	}
	n := int(roll * float64(route.total))
	for _, b := range route.Backends {
		if n < b.Percent {
			return b
		}
		n -= b.Percent
	}
	return route.Backends[len(route.Backends)-1]
}

// PickRandom is Pick with a fresh random roll.
func (route *Route) PickRandom() Backend { return route.Pick(rand.Float64()) }

// hostOnly lowercases a Host header and drops its port, if any.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
