// Command hermes-ingress is the Hermes test bed's minimal Knative networking layer: a KIngress
// (ingresses.networking.internal.knative.dev) controller and HTTP proxy in one process.
//
// It is test-bed code, not part of the deployed product: `make cluster` needs some Knative ingress
// and no Istio, Kourier or Contour is available offline, so this program implements just enough of
// the KIngress contract (knative.dev/networking pkg/apis/networking/v1alpha1) for Routes to become
// Ready and be served, and checks itself against Knative's own ingress conformance tests
// (knative.dev/networking test/conformance/ingress; see conformance.sh).
//
// What it does:
//   - watches KIngresses of its class (annotation networking.knative.dev/ingress.class; those
//     without the annotation too when it is the cluster default), Services and EndpointSlices, with client-go
//     informers and the typed client of knative.dev/networking;
//   - builds one routing table from every such KIngress (table.go): host (with and without port,
//     plus the short cluster-local names Knative expands), path prefix, exact header matches,
//     weighted splits, appendHeaders per path and per split, rewriteHost, and the K-Network-Hash
//     probe paths Knative's ingress.InsertProbe describes;
//   - serves two listeners: the external one routes ExternalIP rules, the local one routes every
//     rule (ClusterLocal and ExternalIP), both HTTP/1.1 (websockets through Upgrade) and h2c;
//   - proxies to a ready endpoint of the backend Service, from the EndpointSlice informer, as
//     Envoy-based ingresses do (the ClusterIP is not used: kube-proxy may program a fresh Service's
//     rules after its pod is ready, and the ClusterIP refuses connections until then); ExternalName
//     Services inside the cluster domain are followed through the Service informer, so no cluster
//     DNS is needed on the node; h2c when the Service port is named http2 or has appProtocol
//     kubernetes.io/h2c;
//   - once a table holding a KIngress generation is live and each of its backends has a ready
//     endpoint, sets that KIngress's status: observed
//     generation, public and private load balancers (the DomainInternal of the Services in front of
//     the two listeners), NetworkConfigured, LoadBalancerReady and so Ready.
//
// Not done: TLS (spec.tls, httpOption redirects), retries and per-route timeouts (the v1alpha1 API
// of this networking version has no timeout field), regex paths, metrics.
package main
