// Package conformance holds no code: ingress_test.go (build tag e2e) runs Knative's ingress
// conformance suite against the test bed's hermes-ingress; see ../conformance.sh.
package conformance
