package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	versioned "knative.dev/networking/pkg/client/clientset/versioned"
	listers "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
)

// Controller rebuilds the routing table whenever a KIngress changes, then reports each KIngress
// whose generation the live table holds as Ready.
type Controller struct {
	Class         string
	IsDefault     bool // also take KIngresses without a class annotation
	Client        versioned.Interface
	Ingresses     listers.IngressLister
	Table         *atomic.Pointer[Table]
	Resolver      *Resolver
	PublicDomain  string // DomainInternal of the Service in front of the external listener
	PrivateDomain string // DomainInternal of the Service in front of the local listener
	Log           *slog.Logger
	dirty         chan struct{}
}

// Owns tells whether a KIngress is of the class this controller serves.
func (c *Controller) Owns(ing *v1alpha1.Ingress) bool {
	class, ok := ing.Annotations[networking.IngressClassAnnotationKey]
	if !ok {
		return c.IsDefault
	}
	return class == c.Class
}

// Handler marks the table stale on any KIngress, Service or EndpointSlice event.
func (c *Controller) Handler() cache.ResourceEventHandler {
	kick := func(any) { c.Kick() }
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    kick,
		UpdateFunc: func(_, n any) { kick(n) },
		DeleteFunc: kick,
	}
}

// Kick asks for a resync; kicks coalesce.
func (c *Controller) Kick() {
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

// Run syncs on every kick until ctx ends; a failed sync is retried after a second.
func (c *Controller) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.dirty:
		}
		if err := c.sync(ctx); err != nil {
			c.Log.Warn("sync failed; retrying", "error", err.Error())
			time.AfterFunc(time.Second, c.Kick)
		}
	}
}

func (c *Controller) sync(ctx context.Context) error {
	all, err := c.Ingresses.List(labels.Everything())
	if err != nil {
		return err
	}
	mine := make([]*v1alpha1.Ingress, 0, len(all))
	for _, ing := range all {
		if c.Owns(ing) && ing.DeletionTimestamp == nil {
			mine = append(mine, ing)
		}
	}
	table := BuildTable(mine)
	c.Table.Store(table) // from here on the proxies serve these generations
	var firstErr error
	for _, ing := range mine {
		if missing := c.unresolved(ing); missing != "" {
			// Not Ready until every backend has a ready endpoint: Service and EndpointSlice events
			// kick another sync.
			c.Log.Info("ingress waits for a backend", "ingress", keyOf(ing).String(), "backend", missing)
			continue
		}
		if err := c.markReady(ctx, ing, table.Generations[keyOf(ing)]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// unresolved names the first backend of the KIngress that the Service cache cannot resolve yet.
func (c *Controller) unresolved(ing *v1alpha1.Ingress) string {
	if c.Resolver == nil {
		return ""
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			for _, s := range p.Splits {
				if _, _, err := c.Resolver.Resolve(s.ServiceNamespace, s.ServiceName, s.ServicePort); err != nil {
					return s.ServiceNamespace + "/" + s.ServiceName + ":" + s.ServicePort.String()
				}
			}
		}
	}
	return ""
}

func (c *Controller) markReady(ctx context.Context, ing *v1alpha1.Ingress, generation int64) error {
	want := ing.DeepCopy()
	want.Status.InitializeConditions()
	want.Status.MarkNetworkConfigured()
	want.Status.MarkLoadBalancerReady(
		[]v1alpha1.LoadBalancerIngressStatus{{DomainInternal: c.PublicDomain}},
		[]v1alpha1.LoadBalancerIngressStatus{{DomainInternal: c.PrivateDomain}},
	)
	want.Status.ObservedGeneration = generation
	if ing.IsReady() && equality.Semantic.DeepEqual(ing.Status.PublicLoadBalancer, want.Status.PublicLoadBalancer) &&
		equality.Semantic.DeepEqual(ing.Status.PrivateLoadBalancer, want.Status.PrivateLoadBalancer) &&
		ing.Status.ObservedGeneration == generation {
		return nil // nothing new; keep condition timestamps as they are
	}
	_, err := c.Client.NetworkingV1alpha1().Ingresses(ing.Namespace).UpdateStatus(ctx, want, metav1UpdateOptions)
	if err == nil {
		c.Log.Info("ingress ready", "ingress", keyOf(ing).String(), "generation", generation)
	}
	return err
}
