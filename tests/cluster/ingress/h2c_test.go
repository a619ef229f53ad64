package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"knative.dev/networking/pkg/apis/networking/v1alpha1"
)

// gRPC's shape: an h2c client, through the proxy, to an h2c-only backend that sends trailers.
func TestH2CEndToEnd(t *testing.T) {
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status")
		w.Header().Set("Proto", r.Proto)
		io.WriteString(w, "pong")
		w.Header().Set("Grpc-Status", "0")
	}))
	backend.Config.Protocols = new(http.Protocols)
	backend.Config.Protocols.SetUnencryptedHTTP2(true) // refuses HTTP/1.1
	backend.Start()
	defer backend.Close()
	svc, port := localService(t, "grpc", "http2", backend)
	sp := split("grpc", 0, nil)
	sp.ServicePort.IntVal = port
	ing := kingress("a", 1, rule(v1alpha1.IngressVisibilityExternalIP,
		[]string{"grpc.example.com"}, v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{sp}}))

	front := httptest.NewUnstartedServer(proxyOf(resolverOf(indexer(svc)), ing))
	front.Config = newServer("", front.Config.Handler)
	front.Start()
	defer front.Close()

	client := &http.Client{Transport: &http.Transport{
		Protocols:       h2cOnly(),
		TLSClientConfig: &tls.Config{},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", front.Listener.Addr().String())
		},
	}}
	resp, err := client.Get("http://grpc.example.com/ping")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Proto != "HTTP/2.0" || string(body) != "pong" || resp.Header.Get("Proto") != "HTTP/2.0" {
		t.Fatalf("client %s, body %q, backend saw %q", resp.Proto, body, resp.Header.Get("Proto"))
	}
	if resp.Trailer.Get("Grpc-Status") != "0" {
		t.Errorf("trailer lost: %v", resp.Trailer)
	}
}

func h2cOnly() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}
