// Command hermes-dataplane runs Knative Eventing's own data-plane code (knative.dev/eventing v0.50.0)
// in-process against rendered manifests and our running functions, so a test can see what Knative
// would do with one event: which Triggers pass it on, what our functions answer, how the delivery
// spec retries, and what reaches the dead-letter Broker.
//
//	hermes-dataplane --manifests FILE --namespace hermes --service NAME=URL [--service NAME=URL ...]
//	    (--ping PINGSOURCE_NAME | --type T --source S [--data JSON]) [--id ID] [--broker NAME]
//	hermes-dataplane --manifests FILE --namespace hermes --service NAME=URL ... --listen ADDR --ready FILE
//
// The first form sends one event and reports when every dispatch it caused has ended. The second
// serves the broker ingress on ADDR as well (for functions given K_SINK: events they send go through the
// Broker like any other), writes FILE once ready — {"ingress": "http://ADDR", "bindings": {SERVICE:
// [env Knative's SinkBinding.Do gives its containers]}} — and on SIGTERM/SIGINT waits (up to 60 s) for
// the dispatches under way, then reports (exit 0).
//
// The event path is the one of a multi-tenant channel-based Broker (eventing's stock MTChannelBasedBroker
// with an InMemoryChannel), every hop on its own local HTTP server, the cluster host names mapped onto
// them by the dialer (see knative.go):
//
//	sender -> broker ingress (Knative's ingress.Handler) -> channel (our model of the IMC fan-out: one
//	kncloudevents dispatch per Trigger, with its retries, reply and dead-letter sink) -> broker filter
//	(Knative's filter.Handler) -> recording proxy -> the function named by --service.
//
// Dead letters go to the dead-letter Broker's ingress and fan out the same way; replies go back to the
// Broker, as Knative does. One JSON object on stdout (see report in record.go); Knative's logs on stderr.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	eventingconfig "knative.dev/eventing/pkg/apis/config"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	pkgduckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"
)

// stockBrokerDefaults is the data of config-br-defaults as knative.dev/eventing v0.50.0 ships it
// (config/core/configmaps/default-broker.yaml). The webhook defaults every Broker with it
// (BrokerSpec.SetDefaults, pkg/apis/eventing/v1/broker_defaults.go): a Broker without spec.delivery —
// our dead-letter Broker — gets retry 10, exponential, PT0.2S. A ConfigMap config-br-defaults in the
// manifests replaces it, as the cluster's own would.
const stockBrokerDefaults = `clusterDefault:
  brokerClass: MTChannelBasedBroker
  apiVersion: v1
  kind: ConfigMap
  name: config-br-default-channel
  namespace: knative-eventing
  delivery:
    retry: 10
    backoffPolicy: exponential
    backoffDelay: PT0.2S
`

// manifests holds the Knative objects of the render, defaulted as the webhook would.
type manifests struct {
	brokers      map[string]*eventingv1.Broker
	triggers     []*eventingv1.Trigger // in file order
	pings        map[string]*sourcesv1.PingSource
	bindings     []*sourcesv1.SinkBinding
	services     map[string]bool               // serving.knative.dev Services
	podSpecables map[string]*pkgduckv1.WithPod // "Service/NAME": what a SinkBinding binds to
}

type serviceFlag map[string]string

func (s serviceFlag) String() string { return fmt.Sprint(map[string]string(s)) }
func (s serviceFlag) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want NAME=URL, got %q", v)
	}
	s[name] = url
	return nil
}

type options struct {
	manifests, namespace, ping, typ, source, data, broker, id, listen, ready string
	services                                                                 serviceFlag
}

func main() {
	// Knative's kncloudevents prints a few messages with fmt.Printf: keep stdout for our JSON only.
	stdout := os.Stdout
	os.Stdout = os.Stderr
	opts := options{services: serviceFlag{}}
	fs := flag.NewFlagSet("hermes-dataplane", flag.ContinueOnError)
	fs.StringVar(&opts.manifests, "manifests", "", "multi-document YAML (a helm template render)")
	fs.StringVar(&opts.namespace, "namespace", "", "namespace of the objects that do not name one")
	fs.Var(opts.services, "service", "NAME=URL: where the Knative Service NAME answers (repeatable)")
	fs.StringVar(&opts.ping, "ping", "", "send the event PingSource NAME emits, to its sink")
	fs.StringVar(&opts.typ, "type", "", "event type (without --ping)")
	fs.StringVar(&opts.source, "source", "", "event source (without --ping)")
	fs.StringVar(&opts.data, "data", "", "event data, JSON (without --ping)")
	fs.StringVar(&opts.id, "id", "", "event id (default: a fresh uuid, as the PingSource adapter sets)")
	fs.StringVar(&opts.broker, "broker", "", "Broker to send to (default: the one with a dead-letter sink)")
	fs.StringVar(&opts.listen, "listen", "", "serve the broker ingress on this address too (with --ready; no event sent)")
	fs.StringVar(&opts.ready, "ready", "", "with --listen: write the ingress URL and SinkBinding env here once ready")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	dp, event, broker, err := prepare(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hermes-dataplane:", err)
		os.Exit(2)
	}
	emit := func(out *report, code int) {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, "hermes-dataplane:", err)
			code = 1
		}
		os.Exit(code)
	}
	// Knative may keep retrying for minutes (backoffs add up, and a failing dead-letter path is itself
	// retried): on SIGTERM/SIGINT print what happened so far (ingress_status 0) and exit 3.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if opts.listen != "" {
		if err := serveUntilStopped(dp, opts, stop); err != nil {
			fmt.Fprintln(os.Stderr, "hermes-dataplane:", err)
			os.Exit(1)
		}
		emit(dp.rec.report(event, 0), 0)
	}
	done := make(chan *report)
	go func() {
		out, err := dp.send(event, broker)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hermes-dataplane:", err)
			os.Exit(1)
		}
		done <- out
	}()
	select {
	case out := <-done:
		emit(out, 0)
	case sig := <-stop:
		fmt.Fprintf(os.Stderr, "hermes-dataplane: %v: reporting an unfinished run\n", sig)
		emit(dp.rec.report(event, 0), 3)
	}
}

// serveUntilStopped serves the broker ingress on --listen, writes --ready, and waits for a signal.
func serveUntilStopped(dp *dataplane, opts options, stop <-chan os.Signal) error {
	url, err := dp.listen(opts.listen)
	if err != nil {
		return err
	}
	env, err := dp.bindingEnv(dp.manifests)
	if err != nil {
		return err
	}
	ready, err := json.Marshal(map[string]any{"ingress": url, "bindings": env})
	if err != nil {
		return err
	}
	if err := os.WriteFile(opts.ready+".part", ready, 0o600); err != nil {
		return err
	}
	if err := os.Rename(opts.ready+".part", opts.ready); err != nil {
		return err
	}
	dp.rec.begin()
	<-stop
	// Events posted just before the signal are still being dispatched (async channels): let them end.
	ended := make(chan struct{})
	go func() { dp.inflight.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "hermes-dataplane: dispatches still under way after 60 s: reporting anyway")
	}
	return nil
}

// prepare reads the manifests, builds the event and sets up the data plane.
func prepare(opts options) (dp *dataplane, event cloudevents.Event, b *eventingv1.Broker, err error) {
	fail := func(e error) (*dataplane, cloudevents.Event, *eventingv1.Broker, error) { return nil, event, nil, e }
	switch {
	case opts.manifests == "" || opts.namespace == "":
		return fail(errors.New("--manifests and --namespace are required"))
	case opts.listen != "" && (opts.ready == "" || opts.ping != "" || opts.typ != ""):
		return fail(errors.New("--listen needs --ready, and sends no event of its own"))
	case opts.listen == "" && (opts.ping == "") == (opts.typ == ""):
		return fail(errors.New("give either --ping NAME or --type T --source S [--data JSON]"))
	case opts.typ != "" && opts.source == "":
		return fail(errors.New("--type needs --source"))
	}
	m, err := loadManifests(opts.manifests, opts.namespace)
	if err != nil {
		return fail(err)
	}
	for name := range opts.services {
		if !m.services[name] {
			return fail(fmt.Errorf("unknown service %q: no serving.knative.dev Service of that name in %s", name, opts.manifests))
		}
	}

	broker := opts.broker
	if opts.ping != "" {
		src, ok := m.pings[opts.ping]
		if !ok {
			return fail(fmt.Errorf("no PingSource %q in %s", opts.ping, opts.manifests))
		}
		if ref := src.Spec.Sink.Ref; ref == nil || ref.Kind != "Broker" {
			return fail(fmt.Errorf("PingSource %q: only a sink.ref to a Broker is modelled", opts.ping))
		} else if broker == "" {
			broker = ref.Name
		}
		if event, err = pingEvent(src); err != nil {
			return fail(err)
		}
	} else if opts.typ != "" {
		if event, err = customEvent(opts.typ, opts.source, opts.data); err != nil {
			return fail(err)
		}
	} else {
		event = cloudevents.NewEvent() // --listen: the report's "event" stays empty
	}
	if opts.id != "" {
		event.SetID(opts.id)
	}
	if broker == "" {
		if broker, err = defaultBroker(m); err != nil {
			return fail(err)
		}
	}
	if _, ok := m.brokers[broker]; !ok {
		return fail(fmt.Errorf("no Broker %q in %s", broker, opts.manifests))
	}

	if dp, err = newDataplane(opts.namespace, m, opts.services); err != nil {
		return fail(err)
	}
	return dp, event, m.brokers[broker], nil
}

// loadManifests decodes the Brokers, Triggers and PingSources of a multi-document YAML file and
// applies the webhook's SetDefaults to them (apis.WithinCreate, under config-br-defaults).
func loadManifests(file, namespace string) (*manifests, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &manifests{brokers: map[string]*eventingv1.Broker{}, pings: map[string]*sourcesv1.PingSource{},
		services: map[string]bool{}, podSpecables: map[string]*pkgduckv1.WithPod{}}
	var objects []apis.Defaultable
	brDefaults := map[string]string{eventingconfig.BrokerDefaultsKey: stockBrokerDefaults}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, n, err)
		}
		var obj interface {
			apis.Defaultable
			GetNamespace() string
			SetNamespace(string)
			SetUID(types.UID)
		}
		switch head.APIVersion + "/" + head.Kind {
		case "eventing.knative.dev/v1/Broker":
			b := &eventingv1.Broker{}
			m.brokers[head.Metadata.Name], obj = b, b
		case "eventing.knative.dev/v1/Trigger":
			t := &eventingv1.Trigger{}
			m.triggers, obj = append(m.triggers, t), t
		case "sources.knative.dev/v1/PingSource":
			p := &sourcesv1.PingSource{}
			m.pings[head.Metadata.Name], obj = p, p
		case "sources.knative.dev/v1/SinkBinding":
			sb := &sourcesv1.SinkBinding{}
			m.bindings, obj = append(m.bindings, sb), sb
		case "serving.knative.dev/v1/Service":
			m.services[head.Metadata.Name] = true
			wp := &pkgduckv1.WithPod{}
			if err := yaml.Unmarshal(doc, wp); err != nil {
				return nil, fmt.Errorf("%s: document %d (%s %s): %w", file, n, head.Kind, head.Metadata.Name, err)
			}
			if wp.Namespace == "" {
				wp.Namespace = namespace
			}
			m.podSpecables["Service/"+head.Metadata.Name] = wp
			continue
		case "v1/ConfigMap":
			if head.Metadata.Name == "config-br-defaults" {
				var cm corev1.ConfigMap
				if err := yaml.Unmarshal(doc, &cm); err != nil {
					return nil, fmt.Errorf("%s: document %d: %w", file, n, err)
				}
				brDefaults = cm.Data
			}
			continue
		default:
			continue
		}
		if err := yaml.Unmarshal(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: document %d (%s %s): %w", file, n, head.Kind, head.Metadata.Name, err)
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		// The API server gives every object a UID; the filter's path carries the Trigger's.
		obj.SetUID(types.UID(uuid.NewSHA1(uuid.NameSpaceURL, []byte(head.Kind+"/"+obj.GetNamespace()+"/"+head.Metadata.Name)).String()))
		objects = append(objects, obj)
	}
	defaults, err := eventingconfig.NewDefaultsConfigFromMap(brDefaults)
	if err != nil {
		return nil, fmt.Errorf("config-br-defaults: %w", err)
	}
	ctx := apis.WithinCreate(eventingconfig.ToContext(context.Background(), &eventingconfig.Config{Defaults: defaults}))
	for _, obj := range objects {
		obj.SetDefaults(ctx)
	}
	return m, nil
}

// defaultBroker: the Broker with a dead-letter sink, else the only Broker no one dead-letters to.
func defaultBroker(m *manifests) (string, error) {
	deadLetter := map[string]bool{}
	var withDLS []string
	for name, b := range m.brokers {
		if d := b.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
			withDLS = append(withDLS, name)
			if ref := d.DeadLetterSink.Ref; ref != nil && ref.Kind == "Broker" {
				deadLetter[ref.Name] = true
			}
		}
	}
	if len(withDLS) == 1 {
		return withDLS[0], nil
	}
	var rest []string
	for name := range m.brokers {
		if !deadLetter[name] {
			rest = append(rest, name)
		}
	}
	if len(rest) == 1 {
		return rest[0], nil
	}
	sort.Strings(rest)
	return "", fmt.Errorf("cannot choose a Broker among %v: pass --broker", rest)
}

// pingEvent builds the event the PingSource adapter sends on each tick. makeEvent in
// knative.dev/eventing/pkg/adapter/mtping/runner.go is unexported, so its choices are replicated:
// type sourcesv1.PingSourceEventType, source sourcesv1.PingSourceSource(ns, name), the
// ceOverrides extensions, data from spec.dataBase64 (decoded) or spec.data with spec.contentType.
// cronTick (same file) sets a fresh uuid as the id; the adapter's CloudEvents client
// (pkg/adapter/v2/cloudevents.go: ceclient.WithTimeNow) stamps the time.
func pingEvent(src *sourcesv1.PingSource) (cloudevents.Event, error) {
	event := cloudevents.NewEvent()
	event.SetType(sourcesv1.PingSourceEventType)
	event.SetSource(sourcesv1.PingSourceSource(src.Namespace, src.Name))
	if o := src.Spec.CloudEventOverrides; o != nil {
		for key, value := range o.Extensions {
			event.SetExtension(key, value)
		}
	}
	var data []byte
	if src.Spec.DataBase64 != "" {
		data, _ = base64.StdEncoding.DecodeString(src.Spec.DataBase64)
	} else if src.Spec.Data != "" {
		data = []byte(src.Spec.Data)
	}
	if data != nil {
		if err := event.SetData(src.Spec.ContentType, data); err != nil {
			return event, fmt.Errorf("PingSource %s: %w", src.Name, err)
		}
	}
	event.SetID(uuid.New().String())
	event.SetTime(time.Now())
	return event, nil
}

// customEvent: --type/--source/--data, application/json.
func customEvent(typ, source, data string) (cloudevents.Event, error) {
	event := cloudevents.NewEvent()
	event.SetID(uuid.New().String())
	event.SetType(typ)
	event.SetSource(source)
	event.SetTime(time.Now())
	if data != "" {
		if !json.Valid([]byte(data)) {
			return event, fmt.Errorf("--data is not JSON: %s", data)
		}
		if err := event.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
			return event, err
		}
	}
	return event, event.Validate()
}
