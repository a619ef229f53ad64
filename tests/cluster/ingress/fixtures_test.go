package main

// The setup the proxy, h2c and controller tests share: objects in an informer's indexer, a Resolver over
// Services, a Service standing for a local test server, and a Proxy routing a set of KIngresses.

import (
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// indexer holds objs as an informer's cache would; a test may add more later.
func indexer(objs ...any) cache.Indexer {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, obj := range objs {
		_ = idx.Add(obj)
	}
	return idx
}

// resolverOf resolves through the Services in idx (no EndpointSlices: ClusterIPs, as from the node).
func resolverOf(idx cache.Indexer) *Resolver {
	return &Resolver{Services: corelisters.NewServiceLister(idx), ClusterDomain: "cluster.local"}
}

// localService is the Service ns/name whose port portName leads to srv on 127.0.0.1, and that port.
func localService(t *testing.T, name, portName string, srv *httptest.Server) (*corev1.Service, int32) {
	t.Helper()
	_, text, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(text)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: "127.0.0.1", Ports: []corev1.ServicePort{{Name: portName, Port: int32(port)}}},
	}, int32(port)
}

// proxyOf is the external listener's Proxy, routing ings to what res resolves.
func proxyOf(res *Resolver, ings ...*v1alpha1.Ingress) *Proxy {
	table := new(atomic.Pointer[Table])
	table.Store(BuildTable(ings))
	return NewProxy(true, table, res, slog.New(slog.DiscardHandler))
}
