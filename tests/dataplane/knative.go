package main

// Wiring of Knative's own handlers, set up as pkg/broker/filter/filter_handler_test.go (TestReceiver)
// does, plus the control-plane rules that decide each Trigger's Subscription — those live in
// reconcilers we do not run, so they are replicated here, each with the file it comes from.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	eventingapis "knative.dev/eventing/pkg/apis"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/eventing/pkg/apis/eventing"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/broker"
	"knative.dev/eventing/pkg/broker/filter"
	"knative.dev/eventing/pkg/broker/ingress"
	"knative.dev/eventing/pkg/channel"
	"knative.dev/eventing/pkg/channel/fanout"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/eventing/pkg/reconciler/broker/resources"
	"knative.dev/eventing/pkg/reconciler/sugar/trigger/path"
	"knative.dev/eventing/pkg/utils"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/network"
	"knative.dev/pkg/resolver"
	"knative.dev/pkg/system"
	"knative.dev/pkg/tracker"

	brokerinformerfake "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/broker/fake"
	triggerinformerfake "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/trigger/fake"
	eventpolicyinformerfake "knative.dev/eventing/pkg/client/injection/informers/eventing/v1alpha1/eventpolicy/fake"
	subscriptioninformerfake "knative.dev/eventing/pkg/client/injection/informers/messaging/v1/subscription/fake"
	configmapinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap/fake"
	filteredconfigmapinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap/filtered/fake"
	filteredFactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"

	_ "knative.dev/pkg/client/injection/ducks/duck/v1/addressable/fake" // the resolver's duck informer (never started)
	_ "knative.dev/pkg/client/injection/kube/client/fake"
	_ "knative.dev/pkg/client/injection/kube/informers/factory/filtered/fake"
	_ "knative.dev/pkg/injection/clients/dynamicclient/fake"
)

// maxTTL is the broker ingress' MAX_TTL default (cmd/broker/ingress/main.go, envConfig).
const maxTTL = 255

// brokerChannel is our model of one Broker's trigger channel: its spec.subscribers, one per Trigger.
type brokerChannel struct {
	broker   *eventingv1.Broker
	triggers []string
	subs     []fanout.Subscription
}

type dataplane struct {
	ctx        context.Context
	inflight   sync.WaitGroup // dispatches of async channels still under way
	namespace  string
	brokers    map[string]*eventingv1.Broker
	services   map[string]string
	resolver   *resolver.URIResolver
	dispatcher *kncloudevents.Dispatcher
	channels   map[string]*brokerChannel // by channel host name
	rec        *recorder
	ingress    http.Handler // the broker ingress (Knative's handler behind the recorder)
	manifests  *manifests
	// SinkBinding.Do needs the trust bundles' lister (none here, as on a cluster without TLS).
	trustBundles corev1listers.ConfigMapLister
}

func clusterHost(name, namespace string) string { return network.GetServiceHostname(name, namespace) }

// brokerURL is the Broker's status.address as the MT broker reconciler sets it (path-based routing on
// the shared ingress: pkg/reconciler/broker/broker.go, httpAddress).
func brokerURL(b *eventingv1.Broker) *apis.URL {
	u := apis.HTTP(clusterHost("broker-ingress", system.Namespace()))
	u.Path = fmt.Sprintf("/%s/%s", b.Namespace, b.Name)
	return u
}

// channelURL is the address of the Broker's InMemoryChannel "<broker>-kne-trigger"
// (resources.BrokerChannelName), served as "<channel>-kn-channel" (pkg/channel/references.go).
func channelURL(b *eventingv1.Broker) *apis.URL {
	return apis.HTTP(clusterHost(resources.BrokerChannelName(b.Name, "trigger")+channel.K8ServiceNameSuffix, b.Namespace))
}

func newDataplane(namespace string, m *manifests, services map[string]string) (*dataplane, error) {
	// Where a stock install runs Knative's data plane, and the stock cluster domain. Set outright:
	// knative.dev/eventing/pkg/apis/messaging/v1 imports knative.dev/pkg/system/testing, whose init
	// sets SYSTEM_NAMESPACE=knative-testing.
	os.Setenv(system.NamespaceEnvKey, "knative-eventing")
	os.Setenv("CLUSTER_DOMAIN", "cluster.local")
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	logCfg.Encoding, logCfg.DisableStacktrace, logCfg.Sampling = "console", true, nil
	logCfg.OutputPaths, logCfg.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	logCfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	logger, err := logCfg.Build()
	if err != nil {
		return nil, err
	}
	hosts := map[string]string{} // cluster host:port -> local server, filled below
	routeClusterHosts(hosts)

	// reconcilertesting.SetupFakeContext (knative.dev/pkg/reconciler/testing/context.go) without its
	// testing.TB: a logger, the test's informer selectors (SetUpInformerSelector), the fake injection.
	// The rest config refuses to dial: no API server is ever reached.
	ctx := logging.WithLogger(context.Background(), logger.Sugar())
	ctx = filteredFactory.WithSelectors(ctx, eventingtls.TrustBundleLabelSelector)
	ctx = injection.WithConfig(ctx, &rest.Config{Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("hermes-dataplane: no Kubernetes API server")
	}})
	ctx, _ = injection.Fake.SetupInformers(ctx, injection.GetConfig(ctx))

	dp := &dataplane{ctx: ctx, namespace: namespace, brokers: m.brokers, services: services, manifests: m,
		channels: map[string]*brokerChannel{}, rec: newRecorder()}
	meters, tracers := noop.NewMeterProvider(), tracenoop.NewTracerProvider()

	// Stock config-features (config/core/configmaps/features.yaml): authentication-oidc disabled, so
	// no token checks, and Subscriptions reply to the Broker and dead-letter to the sink directly.
	features, err := feature.NewFlagsConfigFromMap(map[string]string{feature.OIDCAuthentication: string(feature.Disabled)})
	if err != nil {
		return nil, err
	}
	withFeatures := func(ctx context.Context) context.Context { return feature.ToContext(ctx, features) }
	dp.trustBundles = filteredconfigmapinformer.Get(ctx, eventingtls.TrustBundleLabelSelector).Lister()
	trustBundles := dp.trustBundles.ConfigMaps(system.Namespace())
	tokens := auth.NewOIDCTokenProvider(ctx)
	// NewVerifier tries the (disabled) OIDC discovery once and logs that it failed: keep that quiet.
	quiet := logging.WithLogger(ctx, zap.NewNop().Sugar())
	verifier := auth.NewVerifier(quiet, eventpolicyinformerfake.Get(ctx).Lister(), trustBundles, configmap.NewStaticWatcher(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config-features", Namespace: system.Namespace()},
			Data: map[string]string{feature.OIDCAuthentication: string(feature.Disabled)}}))

	// The Subscription reconciler resolves references with knative.dev/pkg/resolver; its ref+uri rule
	// (AddressableFromDestinationV1: base.ResolveReference(uri)) runs as is, our RefResolverFunc only
	// supplies the addresses a cluster would publish in status.address.
	dp.resolver = resolver.NewURIResolverFromTracker(ctx, tracker.New(func(types.NamespacedName) {}, 0), dp.resolveRef)
	for _, b := range m.brokers {
		b.Status.Address = &duckv1.Addressable{URL: brokerURL(b)}
		b.Status.Annotations = map[string]string{eventing.BrokerChannelAddressStatusAnnotationKey: channelURL(b).String()}
		if err := brokerinformerfake.Get(ctx).Informer().GetStore().Add(b); err != nil {
			return nil, err
		}
		dp.channels[channelURL(b).Host] = &brokerChannel{broker: b}
	}
	for _, t := range m.triggers {
		b, ok := m.brokers[t.Spec.Broker]
		if !ok {
			return nil, fmt.Errorf("Trigger %s: no Broker %q in the manifests", t.Name, t.Spec.Broker)
		}
		sub, err := dp.subscribe(t, b)
		if err != nil {
			return nil, fmt.Errorf("Trigger %s: %w", t.Name, err)
		}
		if err := triggerinformerfake.Get(ctx).Informer().GetStore().Add(t); err != nil {
			return nil, err
		}
		ch := dp.channels[channelURL(b).Host]
		ch.triggers, ch.subs = append(ch.triggers, t.Name), append(ch.subs, sub)
	}

	filterHandler, err := filter.NewHandler(logger, verifier, tokens,
		triggerinformerfake.Get(ctx), brokerinformerfake.Get(ctx), subscriptioninformerfake.Get(ctx),
		configmapinformer.Get(ctx).Lister().ConfigMaps("ns"), withFeatures, meters, tracers)
	if err != nil {
		return nil, err
	}
	// cmd/broker/ingress/main.go: the TTL defaulter with MAX_TTL, the broker informer, the same auth.
	ingressHandler, err := ingress.NewHandler(logger, broker.TTLDefaulter(logger, maxTTL), brokerinformerfake.Get(ctx),
		verifier, tokens, trustBundles, withFeatures, meters, tracers)
	if err != nil {
		return nil, err
	}
	// The IMC dispatcher's own Dispatcher (cmd/in_memory/dispatcher builds it the same way).
	dp.dispatcher = kncloudevents.NewDispatcher(eventingtls.ClientConfig{TrustBundleConfigMapLister: trustBundles}, tokens,
		kncloudevents.WithMeterProvider(meters), kncloudevents.WithTraceProvider(tracers))

	serve := func(host string, h http.Handler) { hosts[host+":80"] = httptest.NewServer(h).Listener.Addr().String() }
	serve(clusterHost("broker-filter", system.Namespace()), dp.rec.filterSide(filterHandler))
	dp.ingress = dp.rec.ingressSide(ingressHandler)
	serve(clusterHost("broker-ingress", system.Namespace()), dp.ingress)
	for host := range dp.channels {
		serve(host, http.HandlerFunc(dp.serveChannel))
	}
	for name, target := range services {
		proxy, err := dp.rec.subscriberProxy(target)
		if err != nil {
			return nil, fmt.Errorf("--service %s=%s: %w", name, target, err)
		}
		serve(clusterHost(name, namespace), proxy)
	}
	return dp, nil
}

// resolveRef publishes the addresses the control plane would: a Broker's status.address, a Knative
// Service's cluster-local status.address (http://NAME.NS.svc.cluster.local).
func (dp *dataplane) resolveRef(_ context.Context, ref *corev1.ObjectReference) (bool, *apis.URL, error) {
	ns := ref.Namespace
	if ns == "" {
		ns = dp.namespace
	}
	switch ref.GroupVersionKind().GroupKind().String() {
	case "Broker.eventing.knative.dev":
		if b, ok := dp.brokers[ref.Name]; ok && b.Namespace == ns {
			return true, brokerURL(b), nil
		}
		return true, nil, fmt.Errorf("no Broker %s/%s in the manifests", ns, ref.Name)
	case "Service.serving.knative.dev":
		if _, ok := dp.services[ref.Name]; ok && ns == dp.namespace {
			return true, apis.HTTP(clusterHost(ref.Name, ns)), nil
		}
		return true, nil, fmt.Errorf("unknown service %s/%s: pass --service %s=URL", ns, ref.Name, ref.Name)
	}
	return true, nil, fmt.Errorf("cannot resolve %s %s/%s", ref.Kind, ns, ref.Name)
}

// subscribe wires Trigger t as the control plane would (OIDC disabled) and returns its entry in the
// Broker channel's spec.subscribers, converted by the IMC dispatcher's own SubscriberSpecToFanoutConfig.
func (dp *dataplane) subscribe(t *eventingv1.Trigger, b *eventingv1.Broker) (fanout.Subscription, error) {
	if t.Spec.Subscriber.Ref == nil {
		return fanout.Subscription{}, errors.New("only a subscriber.ref to a Service is modelled")
	}
	// Trigger reconciler (pkg/reconciler/broker/trigger/trigger.go, ReconcileKind): status.subscriberUri.
	addr, err := dp.resolver.AddressableFromDestinationV1(dp.ctx, t.Spec.Subscriber, t)
	if err != nil {
		return fanout.Subscription{}, err
	}
	t.Status.SubscriberURI = addr.URL

	// Same file, subscribeToBrokerChannel: subscriber = the filter's /triggers/NS/NAME/UID, reply =
	// the Broker, and
	//	delivery := t.Spec.Delivery.DeepCopy(); if delivery == nil { delivery = b.Spec.Delivery.DeepCopy() }
	// i.e. a Trigger's spec.delivery replaces the Broker's as a whole.
	dest := &duckv1.Destination{URI: &apis.URL{Scheme: "http", Host: clusterHost("broker-filter", system.Namespace()), Path: path.Generate(t)}}
	reply := &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: eventingv1.SchemeGroupVersion.String(), Kind: "Broker", Name: b.Name, Namespace: b.Namespace}}
	delivery := t.Spec.Delivery.DeepCopy()
	if delivery == nil {
		delivery = b.Spec.Delivery.DeepCopy()
	}
	channelRef := &corev1.ObjectReference{APIVersion: messagingv1.SchemeGroupVersion.String(), Kind: "InMemoryChannel",
		Name: resources.BrokerChannelName(b.Name, "trigger"), Namespace: b.Namespace}
	sub := resources.NewSubscription(dp.ctx, t, channelRef, dest, reply, delivery)
	sub.UID = types.UID(string(t.UID) + "-subscription")
	if err := subscriptioninformerfake.Get(dp.ctx).Informer().GetStore().Add(sub); err != nil {
		return fanout.Subscription{}, err
	}

	// Subscription reconciler (pkg/reconciler/subscription/subscription.go): resolves reply and
	// dead-letter sink, writes the channel's spec.subscribers entry (updateChannelAddSubscriptionSpec).
	replyAddr, err := dp.resolver.AddressableFromDestinationV1(dp.ctx, *reply, sub)
	if err != nil {
		return fanout.Subscription{}, err
	}
	spec := eventingduckv1.SubscriberSpec{Name: &sub.Name, UID: sub.UID, SubscriberURI: dest.URI, ReplyURI: replyAddr.URL}
	// The Broker's channel carries the Broker's spec.delivery (pkg/reconciler/broker/broker.go, ReconcileKind).
	if spec.Delivery, err = dp.subscriberDelivery(sub, b.Spec.Delivery); err != nil {
		return fanout.Subscription{}, err
	}
	s, err := fanout.SubscriberSpecToFanoutConfig(spec)
	if err != nil {
		return fanout.Subscription{}, err
	}
	s.Name, s.Namespace = sub.Name, sub.Namespace
	return *s, nil
}

// subscriberDelivery replicates pkg/reconciler/subscription/subscription.go: resolveDeadLetterSink
// (the Subscription's dead-letter sink, else the channel's) and deliverySpec (retry, backoffPolicy,
// backoffDelay, timeout, retryAfterMax from the Subscription's delivery when it has one, else from the
// channel's). So a Trigger whose delivery sets retries but no sink still dead-letters to the Broker's.
func (dp *dataplane) subscriberDelivery(sub *messagingv1.Subscription, channelDelivery *eventingduckv1.DeliverySpec) (*eventingduckv1.DeliverySpec, error) {
	var out *eventingduckv1.DeliverySpec
	dls := (*duckv1.Destination)(nil)
	if d := sub.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
		dls = d.DeadLetterSink
	} else if channelDelivery != nil && channelDelivery.DeadLetterSink != nil {
		dls = channelDelivery.DeadLetterSink
	}
	if dls != nil {
		addr, err := dp.resolver.AddressableFromDestinationV1(dp.ctx, *dls, sub)
		if err != nil {
			return nil, fmt.Errorf("dead-letter sink: %w", err)
		}
		out = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: addr.URL}}
	}
	d := sub.Spec.Delivery
	if d == nil {
		d = channelDelivery
	}
	if d != nil && (d.BackoffDelay != nil || d.Retry != nil || d.BackoffPolicy != nil || d.Timeout != nil || d.RetryAfterMax != nil) {
		if out == nil {
			out = &eventingduckv1.DeliverySpec{}
		}
		out.BackoffPolicy, out.Retry, out.BackoffDelay, out.Timeout, out.RetryAfterMax =
			d.BackoffPolicy, d.Retry, d.BackoffDelay, d.Timeout, d.RetryAfterMax
	}
	return out, nil
}

// serveChannel models the InMemoryChannel dispatcher of a Broker's channel: channel.EventReceiver.ServeHTTP
// (pkg/channel/event_receiver.go: pass-through headers, 202, or 500 when a subscription failed) around
// FanoutEventHandler.dispatch / makeFanoutRequest (pkg/channel/fanout/fanout_event_handler.go: one
// goroutine per subscription, Kn-Namespace header, SendEvent with WithHeader, WithReply,
// WithDeadLetterSink, WithRetryConfig). Synchronous as IMC is by default; asynchronous when the Broker
// carries messaging.knative.dev/async-handler "true", which the broker reconciler copies to its channel
// (pkg/reconciler/broker/broker.go) and the IMC dispatcher reads (pkg/reconciler/inmemorychannel/dispatcher,
// newConfigForInMemoryChannel): then the receiver answers 202 at once and dispatches with a background
// context (fanout_event_handler.go, createEventReceiverFunction). Ours adds only the
// Knative-Hermes-Dispatch header that the recorder follows (Knative never acts on it).
func (dp *dataplane) serveChannel(w http.ResponseWriter, r *http.Request) {
	ch, ok := dp.channels[hostOnly(r.Host)]
	if !ok || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	event, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	headers := utils.PassThroughHeaders(r.Header)
	if async, _ := strconv.ParseBool(ch.broker.Annotations[messagingv1.AsyncHandlerAnnotation]); async {
		dp.inflight.Add(1)
		go func() {
			defer dp.inflight.Done()
			dp.fanout(context.Background(), ch, *event, headers)
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if dp.fanout(r.Context(), ch, *event, headers) {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// fanout dispatches one event to every subscription of the channel and waits; whether any failed.
func (dp *dataplane) fanout(ctx context.Context, ch *brokerChannel, event cloudevents.Event, headers http.Header) bool {
	var wg sync.WaitGroup
	var failed atomic.Bool
	for i, s := range ch.subs {
		id := dp.rec.startDispatch(ch.broker.Name, ch.triggers[i], event.Type()) // records in Trigger order
		wg.Add(1)
		go func(s fanout.Subscription, event cloudevents.Event) {
			defer wg.Done()
			h := headers.Clone()
			h.Set(eventingapis.KnNamespaceHeader, s.Namespace)
			h.Set(dispatchHeader, id)
			opts := []kncloudevents.SendOption{kncloudevents.WithHeader(h), kncloudevents.WithRetryConfig(s.RetryConfig)}
			if s.Reply != nil {
				reply := *s.Reply
				opts = append(opts, kncloudevents.WithReply(&reply))
			}
			if s.DeadLetter != nil {
				dls := *s.DeadLetter
				opts = append(opts, kncloudevents.WithDeadLetterSink(&dls))
			}
			_, err := dp.dispatcher.SendEvent(ctx, event, s.Subscriber, opts...)
			dp.rec.endDispatch(id, err)
			failed.CompareAndSwap(false, err != nil)
		}(s, event)
	}
	wg.Wait()
	return failed.Load()
}

// send delivers the event to the Broker's ingress, as a source does, and waits: the channel and the
// dead-letter path are synchronous, so when the ingress answers everything has happened.
func (dp *dataplane) send(event cloudevents.Event, b *eventingv1.Broker) (*report, error) {
	dp.rec.begin()
	info, err := dp.dispatcher.SendEvent(dp.ctx, event, duckv1.Addressable{URL: brokerURL(b)})
	if err != nil && (info == nil || len(info.ResponseHeader) == 0) { // no HTTP answer at all
		return nil, fmt.Errorf("sending to the broker ingress: %w", err)
	}
	dp.inflight.Wait() // an async channel answered before its dispatches (and theirs) ended
	return dp.rec.report(event, info.ResponseCode), nil
}

// listen serves the broker ingress on addr too, so a process outside the harness (a function given
// K_SINK) reaches it; the ingress routes by path (/<namespace>/<broker>), whatever the host.
func (dp *dataplane) listen(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(l, dp.ingress) }()
	return "http://" + l.Addr().String(), nil
}

// bindingEnv runs Knative's SinkBinding.Do (pkg/apis/sources/v1/sinkbinding_lifecycle.go) on each
// binding's subject, as the SinkBinding webhook does to the pod template: the env it gives each container.
func (dp *dataplane) bindingEnv(m *manifests) (map[string][]corev1.EnvVar, error) {
	out := map[string][]corev1.EnvVar{}
	ctx := sourcesv1.WithURIResolver(dp.ctx, dp.resolver)
	ctx = sourcesv1.WithTrustBundleConfigMapLister(ctx, dp.trustBundles)
	for _, sb := range m.bindings {
		subject := sb.Spec.Subject
		ps, ok := m.podSpecables[subject.Kind+"/"+subject.Name]
		if !ok || subject.Namespace != dp.namespace {
			return nil, fmt.Errorf("SinkBinding %s: no %s %s/%s in the manifests", sb.Name, subject.Kind, subject.Namespace, subject.Name)
		}
		bound := ps.DeepCopy()
		sb.Do(ctx, bound)
		if sb.Status.SinkURI == nil {
			return nil, fmt.Errorf("SinkBinding %s: Knative could not resolve its sink", sb.Name)
		}
		for _, c := range bound.Spec.Template.Spec.Containers {
			out[subject.Name] = append(out[subject.Name], c.Env...)
		}
	}
	return out, nil
}
