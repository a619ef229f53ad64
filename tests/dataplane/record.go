package main

// What the test reads: every dispatch the channel made (one per Trigger and event), every request
// Knative's filter made to our functions, and the plumbing that routes cluster host names to the
// local servers.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"knative.dev/eventing/pkg/kncloudevents/attributes"
)

// dispatchHeader tags the channel's requests with the dispatch they belong to. The "knative-" prefix
// makes Knative's filter pass it on (utils.PassThroughHeaders), so the subscriber proxy knows the
// Trigger; the dispatcher also sends it to the dead-letter sink. The proxy strips it: our functions
// never see it.
const dispatchHeader = "Knative-Hermes-Dispatch"

type dispatchRecord struct {
	Broker       string `json:"broker"`
	Trigger      string `json:"trigger"`
	Type         string `json:"type"`
	Status       int    `json:"status"`   // last status the filter answered the dispatcher
	Attempts     int    `json:"attempts"` // requests the dispatcher made to the filter
	DeadLettered bool   `json:"dead_lettered"`
	Error        string `json:"error"` // SendEvent's error (empty when delivered or dead-lettered)
}

type deliveryRecord struct {
	Broker          string `json:"broker"`
	Trigger         string `json:"trigger"`
	Path            string `json:"path"`
	Status          int    `json:"status"`
	AtMs            int64  `json:"at_ms"`
	Type            string `json:"type"`
	ReplyCloudEvent bool   `json:"reply_cloudevent"`
	ErrorCode       string `json:"knativeerrorcode"`
	ErrorDest       string `json:"knativeerrordest"`
	ErrorData       string `json:"knativeerrordata"`
	ProxyError      string `json:"proxy_error,omitempty"` // the function could not be reached (status 502)
}

type eventRecord struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	Source          string `json:"source"`
	SpecVersion     string `json:"specversion"`
	DataContentType string `json:"datacontenttype"`
	Data            string `json:"data"`
	Time            string `json:"time"`
}

type report struct {
	Event         eventRecord       `json:"event"`
	IngressStatus int               `json:"ingress_status"` // the Broker ingress' answer to the sender
	Dispatches    []*dispatchRecord `json:"dispatches"`
	Deliveries    []*deliveryRecord `json:"deliveries"`
}

type recorder struct {
	mu         sync.Mutex
	start      time.Time
	dispatches []*dispatchRecord
	deliveries []*deliveryRecord
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) begin() { r.mu.Lock(); r.start = time.Now(); r.mu.Unlock() }

func (r *recorder) startDispatch(broker, trigger, typ string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dispatches = append(r.dispatches, &dispatchRecord{Broker: broker, Trigger: trigger, Type: typ})
	return strconv.Itoa(len(r.dispatches) - 1)
}

// dispatch returns the record a request belongs to, or nil; call with r.mu held.
func (r *recorder) dispatch(h http.Header) *dispatchRecord {
	i, err := strconv.Atoi(h.Get(dispatchHeader))
	if err != nil || i < 0 || i >= len(r.dispatches) {
		return nil
	}
	return r.dispatches[i]
}

func (r *recorder) endDispatch(id string, err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.dispatch(http.Header{dispatchHeader: {id}}); d != nil {
		d.Error = err.Error()
	}
}

// statusWriter remembers the status a handler answered (200 when it wrote none: net/http's default).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func serveRecorded(h http.Handler, w http.ResponseWriter, req *http.Request) int {
	sw := &statusWriter{ResponseWriter: w}
	h.ServeHTTP(sw, req)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.status
}

// filterSide counts the dispatcher's attempts at the filter and keeps the last status.
func (r *recorder) filterSide(filter http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		status := serveRecorded(filter, w, req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if d := r.dispatch(req.Header); d != nil {
			d.Attempts++
			d.Status = status
		}
	})
}

// ingressSide notes dead letters: a channel dispatch's header arriving at a Broker ingress means the
// dispatcher sent the event to the dead-letter sink (replies carry the response's headers, not ours).
func (r *recorder) ingressSide(ingress http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		if d := r.dispatch(req.Header); d != nil {
			d.DeadLettered = true
		}
		r.mu.Unlock()
		serveRecorded(ingress, w, req)
	})
}

type deliveryKey struct{}

// subscriberProxy records each request Knative's filter makes to a function and forwards it to target.
func (r *recorder) subscriberProxy(target string) (http.Handler, error) {
	base, err := url.Parse(target)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("not an absolute URL")
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base) // base path + the path Knative asked for (e.g. /undelivered)
			pr.Out.Header.Del(dispatchHeader)
		},
		Transport: &http.Transport{Proxy: nil},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del(dispatchHeader)
			// The filter's own test for a reply event (filter_handler.go, writeResponse).
			isEvent := cehttp.NewMessage(resp.Header, nil).ReadEncoding() != binding.EncodingUnknown
			if d, ok := resp.Request.Context().Value(deliveryKey{}).(*deliveryRecord); ok {
				r.mu.Lock()
				d.Status, d.ReplyCloudEvent = resp.StatusCode, isEvent
				r.mu.Unlock()
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if d, ok := req.Context().Value(deliveryKey{}).(*deliveryRecord); ok {
				r.mu.Lock()
				d.Status, d.ProxyError = http.StatusBadGateway, err.Error()
				r.mu.Unlock()
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		d := &deliveryRecord{Path: req.URL.Path, Type: req.Header.Get("Ce-Type")}
		msg := cehttp.NewMessage(req.Header, io.NopCloser(bytes.NewReader(body)))
		if event, err := binding.ToEvent(req.Context(), msg); err == nil {
			ext := event.Extensions()
			d.Type = event.Type()
			d.ErrorCode, d.ErrorDest, d.ErrorData = extString(ext, attributes.KnativeErrorCodeExtensionKey),
				extString(ext, attributes.KnativeErrorDestExtensionKey), extString(ext, attributes.KnativeErrorDataExtensionKey)
		}
		r.mu.Lock()
		d.AtMs = time.Since(r.start).Milliseconds()
		if rec := r.dispatch(req.Header); rec != nil {
			d.Broker, d.Trigger = rec.Broker, rec.Trigger
		}
		r.deliveries = append(r.deliveries, d)
		r.mu.Unlock()
		proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), deliveryKey{}, d)))
	}), nil
}

func extString(ext map[string]interface{}, key string) string {
	if v, ok := ext[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func (r *recorder) report(event cloudevents.Event, ingressStatus int) *report {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Copies: on SIGTERM the report is written while dispatches are still under way.
	out := &report{IngressStatus: ingressStatus, Dispatches: []*dispatchRecord{}, Deliveries: []*deliveryRecord{},
		Event: eventRecord{ID: event.ID(), Type: event.Type(), Source: event.Source(), SpecVersion: event.SpecVersion(),
			DataContentType: event.DataContentType(), Data: string(event.Data())}}
	if !event.Time().IsZero() {
		out.Event.Time = event.Time().UTC().Format(time.RFC3339Nano)
	}
	for _, d := range r.dispatches {
		c := *d
		out.Dispatches = append(out.Dispatches, &c)
	}
	for _, d := range r.deliveries {
		c := *d
		out.Deliveries = append(out.Deliveries, &c)
	}
	return out
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// routeClusterHosts makes the cluster's host names (broker-ingress, broker-filter, the channels, the
// Knative Services) dial our local servers. kncloudevents clones http.DefaultTransport for each of its
// clients (pkg/kncloudevents/http_client.go, createNewClient), so patching it before the first send
// routes all of Knative's traffic; environment proxies are turned off for the same reason.
func routeClusterHosts(hosts map[string]string) {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	transport := http.DefaultTransport.(*http.Transport)
	transport.Proxy = nil
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if local, ok := hosts[strings.ToLower(addr)]; ok {
			addr = local
		}
		return dialer.DialContext(ctx, network, addr)
	}
}
