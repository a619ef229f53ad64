package main

import (
	"encoding/hex"
	"math"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/networking/pkg/ingress"
)

func split(name string, pct int, hdrs map[string]string) v1alpha1.IngressBackendSplit {
	return v1alpha1.IngressBackendSplit{
		IngressBackend: v1alpha1.IngressBackend{ServiceNamespace: "ns", ServiceName: name, ServicePort: intstr.FromInt(80)},
		Percent:        pct, AppendHeaders: hdrs,
	}
}

func kingress(name string, gen int64, rules ...v1alpha1.IngressRule) *v1alpha1.Ingress {
	return &v1alpha1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: gen},
		Spec:       v1alpha1.IngressSpec{Rules: rules},
	}
}

func rule(vis v1alpha1.IngressVisibility, hosts []string, paths ...v1alpha1.HTTPIngressPath) v1alpha1.IngressRule {
	return v1alpha1.IngressRule{Hosts: hosts, Visibility: vis, HTTP: &v1alpha1.HTTPIngressRuleValue{Paths: paths}}
}

func match(t *testing.T, tab *Table, external bool, host, path string, hdrs ...string) *Route {
	t.Helper()
	r := httptest.NewRequest("GET", "http://"+host+path, nil)
	for i := 0; i+1 < len(hdrs); i += 2 {
		r.Header.Set(hdrs[i], hdrs[i+1])
	}
	return tab.Match(external, r)
}

func TestVisibilityAndHosts(t *testing.T) {
	tab := BuildTable([]*v1alpha1.Ingress{kingress("a", 3,
		rule(v1alpha1.IngressVisibilityExternalIP, []string{"app.example.com"},
			v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("pub", 0, nil)}}),
		rule(v1alpha1.IngressVisibilityClusterLocal, []string{"app.ns.svc.cluster.local"},
			v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("priv", 0, nil)}}),
	)})
	if got := tab.Generations[keyOf(kingress("a", 0))]; got != 3 {
		t.Fatalf("generation = %d, want 3", got)
	}
	cases := []struct {
		external bool
		host     string
		want     string // backend name, "" for no route
	}{
		{true, "app.example.com", "pub"},
		{true, "APP.example.com:8080", "pub"},
		{false, "app.example.com", "pub"}, // the local listener serves external rules too
		{true, "app.ns.svc.cluster.local", ""},
		{false, "app.ns.svc.cluster.local", "priv"},
		{false, "app.ns.svc.cluster.local:80", "priv"},
		{false, "app.ns.svc", "priv"}, // Knative's expanded short names
		{false, "app.ns", "priv"},
		{false, "other.example.com", ""},
	}
	for _, c := range cases {
		route := match(t, tab, c.external, c.host, "/")
		got := ""
		if route != nil {
			got = route.Pick(0).Name
		}
		if got != c.want {
			t.Errorf("external=%v host=%q: backend %q, want %q", c.external, c.host, got, c.want)
		}
	}
}

func TestPathsHeadersAndOrder(t *testing.T) {
	tab := BuildTable([]*v1alpha1.Ingress{kingress("a", 1,
		rule(v1alpha1.IngressVisibilityExternalIP, []string{"h"},
			v1alpha1.HTTPIngressPath{Path: "/foo", Splits: []v1alpha1.IngressBackendSplit{split("foo", 0, nil)}},
			v1alpha1.HTTPIngressPath{
				Headers: map[string]v1alpha1.HeaderMatch{"knative-serving-tag": {Exact: "t"}},
				Splits:  []v1alpha1.IngressBackendSplit{split("tagged", 0, nil)},
			},
			v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("rest", 0, nil)}},
		))})
	cases := []struct {
		path string
		hdrs []string
		want string
	}{
		{"/foo", nil, "foo"},
		{"/foobar/x", nil, "foo"}, // a literal prefix, as the API documents
		{"/bar", nil, "rest"},
		{"/bar", []string{"Knative-Serving-Tag", "t"}, "tagged"},
		{"/bar", []string{"Knative-Serving-Tag", "other"}, "rest"},
		{"/foo", []string{"Knative-Serving-Tag", "t"}, "foo"}, // first match wins
	}
	for _, c := range cases {
		route := match(t, tab, true, "h", c.path, c.hdrs...)
		if route == nil || route.Pick(0).Name != c.want {
			t.Errorf("%s %v: got %+v, want %s", c.path, c.hdrs, route, c.want)
		}
	}
}

func TestProbePathsCarryTheIngressHash(t *testing.T) {
	ing := kingress("a", 1, rule(v1alpha1.IngressVisibilityExternalIP, []string{"h"},
		v1alpha1.HTTPIngressPath{
			AppendHeaders: map[string]string{"Knative-Serving-Revision": "r1"},
			Splits:        []v1alpha1.IngressBackendSplit{split("s", 0, nil)},
		}))
	sum, err := ingress.ComputeHash(ing)
	if err != nil {
		t.Fatal(err)
	}
	tab := BuildTable([]*v1alpha1.Ingress{ing})
	probe := match(t, tab, true, "h", "/healthz", "K-Network-Probe", "probe", "K-Network-Hash", "override")
	if probe == nil || probe.AppendHeaders["K-Network-Hash"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("probe route %+v lacks the ingress hash %x", probe, sum)
	}
	if probe.AppendHeaders["Knative-Serving-Revision"] != "r1" {
		t.Errorf("probe route dropped the path's own headers: %v", probe.AppendHeaders)
	}
	plain := match(t, tab, true, "h", "/")
	if plain == nil || plain.AppendHeaders["K-Network-Hash"] != "" {
		t.Errorf("ordinary request routed with a hash: %+v", plain)
	}
	if len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Errorf("BuildTable changed its input")
	}
}

func TestSplitWeighting(t *testing.T) {
	tab := BuildTable([]*v1alpha1.Ingress{kingress("a", 1, rule(v1alpha1.IngressVisibilityExternalIP, []string{"h"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{
			split("a", 10, map[string]string{"Which": "a"}), split("b", 30, nil), split("c", 60, nil),
		}}))})
	route := match(t, tab, true, "h", "/")
	// Pick is exact on its roll: [0,.1) -> a, [.1,.4) -> b, [.4,1) -> c.
	for roll, want := range map[float64]string{0: "a", 0.0999: "a", 0.1: "b", 0.3999: "b", 0.4: "c", 0.9999: "c"} {
		if got := route.Pick(roll).Name; got != want {
			t.Errorf("Pick(%v) = %s, want %s", roll, got, want)
		}
	}
	if route.Pick(0).AppendHeaders["Which"] != "a" {
		t.Errorf("split headers lost")
	}
	// And the random draw follows the weights: 100k draws, each share within 1 point.
	const n = 100000
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		counts[route.PickRandom().Name]++
	}
	for name, pct := range map[string]float64{"a": 10, "b": 30, "c": 60} {
		if got := 100 * float64(counts[name]) / n; math.Abs(got-pct) > 1 {
			t.Errorf("backend %s got %.2f%% of traffic, want %.0f%%", name, got, pct)
		}
	}
}

func TestLoneSplitWithoutPercentTakesAll(t *testing.T) {
	tab := BuildTable([]*v1alpha1.Ingress{kingress("a", 1, rule("", []string{"h"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("only", 0, nil)}}))})
	route := match(t, tab, true, "h", "/") // no visibility: ExternalIP, the API default
	if route == nil || route.Pick(0.99).Name != "only" {
		t.Fatalf("got %+v", route)
	}
}

func TestOwnsByClass(t *testing.T) {
	c := &Controller{Class: "hermes.ingress.networking.knative.dev"}
	ing := kingress("a", 1)
	if c.Owns(ing) {
		t.Error("unannotated ingress taken while not the default class")
	}
	c.IsDefault = true
	if !c.Owns(ing) {
		t.Error("unannotated ingress refused while the default class")
	}
	ing.Annotations = map[string]string{"networking.knative.dev/ingress.class": "istio.ingress.networking.knative.dev"}
	if c.Owns(ing) {
		t.Error("another class's ingress taken")
	}
	ing.Annotations["networking.knative.dev/ingress.class"] = c.Class
	if !c.Owns(ing) {
		t.Error("own class refused")
	}
}
