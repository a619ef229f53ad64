package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// A real HTTP round trip through the proxy to a local backend standing in for a Service.
func TestProxyRoundTrip(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r)
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	svc, port := localService(t, "s", "http", backend)
	alias := &corev1.Service{ // what Serving makes for a cluster-local route name
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "alias"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "s.ns.svc.cluster.local"},
	}

	sp := split("alias", 0, map[string]string{"Knative-Serving-Revision": "r1"})
	sp.ServicePort.IntVal = port
	ing := kingress("a", 1,
		rule(v1alpha1.IngressVisibilityExternalIP, []string{"app.example.com"},
			v1alpha1.HTTPIngressPath{Path: "/rewrite", RewriteHost: "inner.ns.svc.cluster.local", Splits: []v1alpha1.IngressBackendSplit{sp}},
			v1alpha1.HTTPIngressPath{AppendHeaders: map[string]string{"Knative-Serving-Namespace": "ns"}, Splits: []v1alpha1.IngressBackendSplit{sp}}),
	)
	front := httptest.NewServer(proxyOf(resolverOf(indexer(svc, alias)), ing))
	defer front.Close()

	do := func(host, path string) (int, string) {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := do("app.example.com", "/x"); code != 200 || body != "ok" {
		t.Fatalf("got %d %q", code, body)
	}
	r := seen.Load()
	if r.Host != "app.example.com" || r.Header.Get("Knative-Serving-Namespace") != "ns" ||
		r.Header.Get("Knative-Serving-Revision") != "r1" || r.Header.Get("X-Forwarded-For") == "" {
		t.Errorf("upstream request: host %q headers %v", r.Host, r.Header)
	}
	if code, _ := do("app.example.com", "/rewrite/y"); code != 200 || seen.Load().Host != "inner.ns.svc.cluster.local" {
		t.Errorf("rewriteHost: %d, upstream host %q", code, seen.Load().Host)
	}
	if code, _ := do("nope.example.com", "/"); code != http.StatusNotFound {
		t.Errorf("unknown host: %d, want 404", code)
	}
}

func TestResolveToReadyEndpoints(t *testing.T) {
	sliceIdx := indexer()
	res := resolverOf(indexer(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9", Ports: []corev1.ServicePort{
			{Name: "http", Port: 80}, {Name: "http2", Port: 81},
		}},
	}))
	res.Slices = discoverylisters.NewEndpointSliceLister(sliceIdx)
	if _, _, err := res.Resolve("ns", "s", intstr.FromInt(80)); err == nil {
		t.Fatal("resolved a Service without endpoints")
	}
	str := func(s string) *string { return &s }
	i32 := func(i int32) *int32 { return &i }
	no := false
	_ = sliceIdx.Add(&discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: "s-1", Labels: map[string]string{discoveryv1.LabelServiceName: "s"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: str("http"), Port: i32(8080)}, {Name: str("http2"), Port: i32(8081)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.88.0.5"}},
			{Addresses: []string{"10.88.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
		},
	})
	for i := 0; i < 20; i++ {
		addr, h2c, err := res.Resolve("ns", "s", intstr.FromInt(80))
		if err != nil || addr != "10.88.0.5:8080" || h2c {
			t.Fatalf("port 80: %s %v %v", addr, h2c, err)
		}
	}
	if addr, h2c, err := res.Resolve("ns", "s", intstr.FromString("http2")); err != nil || addr != "10.88.0.5:8081" || !h2c {
		t.Fatalf("port http2: %s %v %v", addr, h2c, err)
	}
}
