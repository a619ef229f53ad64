//go:build e2e

// Package conformance runs Knative's own KIngress conformance suite
// (knative.dev/networking test/conformance/ingress, the version knative.dev/serving v0.50.0 requires)
// against hermes-ingress on the test cluster. Test-bed code: see ../conformance.sh.
package conformance

import (
	"testing"

	"knative.dev/networking/test/conformance/ingress"
)

func TestIngressConformance(t *testing.T) {
	ingress.RunConformance(t)
}
