package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	fakenet "knative.dev/networking/pkg/client/clientset/versioned/fake"
	listers "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
)

func TestSyncMarksReadyOnceBackendsResolve(t *testing.T) {
	ctx := context.Background()
	ing := kingress("a", 2, rule(v1alpha1.IngressVisibilityExternalIP, []string{"h"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("s", 0, nil)}}))
	ing.Annotations = map[string]string{"networking.knative.dev/ingress.class": "hermes.ingress.networking.knative.dev"}
	other := kingress("b", 1)
	other.Annotations = map[string]string{"networking.knative.dev/ingress.class": "istio.ingress.networking.knative.dev"}

	client := fakenet.NewSimpleClientset(ing, other)
	svcIdx := indexer()
	c := &Controller{
		Class: "hermes.ingress.networking.knative.dev", Client: client,
		Ingresses: listers.NewIngressLister(indexer(ing, other)), Table: new(atomic.Pointer[Table]),
		Resolver:     resolverOf(svcIdx),
		PublicDomain: "pub.ns.svc.cluster.local", PrivateDomain: "priv.ns.svc.cluster.local",
		Log: slog.New(slog.DiscardHandler), dirty: make(chan struct{}, 1),
	}
	get := func(name string) *v1alpha1.Ingress {
		got, err := client.NetworkingV1alpha1().Ingresses("ns").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	if err := c.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Table.Load().Generations[keyOf(ing)] != 2 {
		t.Fatal("own ingress not in the table")
	}
	if _, ok := c.Table.Load().Generations[keyOf(other)]; ok {
		t.Fatal("another class's ingress in the table")
	}
	if get("a").IsReady() {
		t.Fatal("Ready before its backend Service exists")
	}

	_ = svcIdx.Add(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.50", Ports: []corev1.ServicePort{{Port: 80}}},
	})
	if err := c.sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := get("a")
	if !got.IsReady() || got.Status.ObservedGeneration != 2 {
		t.Fatalf("not Ready: %+v", got.Status)
	}
	if lb := got.Status.PublicLoadBalancer; lb == nil || lb.Ingress[0].DomainInternal != "pub.ns.svc.cluster.local" {
		t.Errorf("public load balancer %+v", lb)
	}
	if lb := got.Status.PrivateLoadBalancer; lb == nil || lb.Ingress[0].DomainInternal != "priv.ns.svc.cluster.local" {
		t.Errorf("private load balancer %+v", lb)
	}
	if get("b").Status.ObservedGeneration != 0 {
		t.Error("another class's ingress status touched")
	}
}
