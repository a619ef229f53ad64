package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"knative.dev/networking/pkg/apis/networking"
)

// Proxy serves one listener from the current routing table.
type Proxy struct {
	External bool
	Table    *atomic.Pointer[Table]
	Resolver *Resolver
	Log      *slog.Logger
	http1    *httputil.ReverseProxy
	h2c      *httputil.ReverseProxy
}

type target struct {
	addr string // ip:port
	h2c  bool
	host string // Host header sent upstream
	hdrs []map[string]string
}

type targetKey struct{}

// NewProxy builds the proxy with one transport per upstream protocol.
func NewProxy(external bool, table *atomic.Pointer[Table], res *Resolver, log *slog.Logger) *Proxy {
	p := &Proxy{External: external, Table: table, Resolver: res, Log: log}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	h1 := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// No response timeout: a KIngress of this API version has none, and Knative's conformance
		// expects long waits before and after the response headers to go through.
	}
	h2 := &http.Transport{DialContext: dialer.DialContext, IdleConnTimeout: 90 * time.Second}
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetUnencryptedHTTP2(true)
	h2.TLSClientConfig = &tls.Config{} // never used for plain http; keeps the transport defaults
	p.http1 = p.reverseProxy(h1)
	p.h2c = p.reverseProxy(h2)
	return p
}

func (p *Proxy) reverseProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:     rt,
		ErrorLog:      slog.NewLogLogger(p.Log.Handler(), slog.LevelWarn),
		FlushInterval: -1, // stream: server-sent events, gRPC and slow bodies pass as they come
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(targetKey{}).(*target)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = t.addr
			pr.Out.Host = t.host
			pr.SetXForwarded()
			for _, h := range t.hdrs {
				for k, v := range h {
					pr.Out.Header.Set(k, v)
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.Log.Warn("upstream failed", "host", r.Host, "path", r.URL.Path, "error", err.Error())
			w.WriteHeader(http.StatusBadGateway)
		},
	}
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	table := p.Table.Load()
	var route *Route
	if table != nil {
		route = table.Match(p.External, r)
	}
	if route == nil {
		http.Error(w, "no route for host "+r.Host, http.StatusNotFound)
		return
	}
	b := route.PickRandom()
	addr, h2c, err := p.Resolver.Resolve(b.Namespace, b.Name, b.Port)
	if err != nil {
		p.Log.Warn("backend unresolved", "ingress", route.Ingress.String(), "service",
			b.Namespace+"/"+b.Name, "error", err.Error())
		http.Error(w, "backend unavailable", http.StatusServiceUnavailable)
		return
	}
	t := &target{addr: addr, h2c: h2c, host: r.Host, hdrs: []map[string]string{route.AppendHeaders, b.AppendHeaders}}
	if route.RewriteHost != "" {
		t.host = route.RewriteHost
	}
	r = r.WithContext(context.WithValue(r.Context(), targetKey{}, t))
	if h2c && r.Header.Get("Upgrade") == "" {
		p.h2c.ServeHTTP(w, r)
		return
	}
	p.http1.ServeHTTP(w, r)
}

// Resolver turns a KIngress backend into an address, through the Service and EndpointSlice
// informers.
type Resolver struct {
	Services corelisters.ServiceLister
	// Slices, when set, makes the proxy dial a ready endpoint of the Service directly, as Envoy-based
	// ingresses do; without it, the Service's ClusterIP (and kube-proxy) is dialled. Endpoints are
	// the better choice: right after a Service's first pod turns ready kube-proxy may not have
	// programmed its rules yet, and the ClusterIP then refuses connections.
	Slices        discoverylisters.EndpointSliceLister
	ClusterDomain string
}

// Resolve returns ip:port for the Service port, and whether that port speaks h2c. ExternalName
// Services naming another Service of this cluster (<name>.<ns>.svc.<domain>) are followed;
// other ExternalNames are dialled by name.
func (res *Resolver) Resolve(ns, name string, port intstr.IntOrString) (string, bool, error) {
	for hops := 0; hops < 4; hops++ {
		svc, err := res.Services.Services(ns).Get(name)
		if err != nil {
			return "", false, err
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			ext := strings.TrimSuffix(svc.Spec.ExternalName, ".")
			suffix := ".svc." + res.ClusterDomain
			if parts := strings.Split(strings.TrimSuffix(ext, suffix), "."); strings.HasSuffix(ext, suffix) && len(parts) == 2 {
				name, ns = parts[0], parts[1]
				continue
			}
			return net.JoinHostPort(ext, port.String()), false, nil
		}
		sp, ok := findPort(svc, port)
		if !ok {
			return "", false, fmt.Errorf("service %s/%s has no port %s", ns, name, port.String())
		}
		h2c := sp.Name == networking.ServicePortNameH2C ||
			(sp.AppProtocol != nil && *sp.AppProtocol == networking.AppProtocolH2C)
		if res.Slices != nil {
			addr, err := res.endpoint(ns, name, sp.Name)
			return addr, h2c, err
		}
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone {
			return "", false, fmt.Errorf("service %s/%s has no cluster IP", ns, name)
		}
		return net.JoinHostPort(ip, strconv.Itoa(int(sp.Port))), h2c, nil
	}
	return "", false, errors.New("too many ExternalName hops")
}

// endpoint picks a ready endpoint of the Service port at random.
func (res *Resolver) endpoint(ns, name, portName string) (string, error) {
	slices, err := res.Slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	if err != nil {
		return "", err
	}
	var addrs []string
	for _, slice := range slices {
		if slice.AddressType != discoveryv1.AddressTypeIPv4 && slice.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, p := range slice.Ports {
			if p.Port == nil || (p.Name != nil && *p.Name != portName) || (p.Name == nil && portName != "") {
				continue
			}
			for _, ep := range slice.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, a := range ep.Addresses {
					addrs = append(addrs, net.JoinHostPort(a, strconv.Itoa(int(*p.Port))))
				}
			}
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("service %s/%s port %q has no ready endpoint", ns, name, portName)
	}
	return addrs[rand.IntN(len(addrs))], nil
}

func findPort(svc *corev1.Service, port intstr.IntOrString) (corev1.ServicePort, bool) {
	for _, sp := range svc.Spec.Ports {
		if (port.Type == intstr.Int && sp.Port == port.IntVal) || (port.Type == intstr.String && sp.Name == port.StrVal) {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}
