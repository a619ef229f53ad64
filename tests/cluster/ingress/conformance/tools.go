//go:build tools

// The test images the conformance suite starts (knative.dev/networking test/test_images), built by
// ../conformance.sh from this module so their dependencies are pinned by this go.sum.
package conformance

import (
	_ "knative.dev/networking/test/test_images/grpc-ping"
	_ "knative.dev/networking/test/test_images/httpproxy"
	_ "knative.dev/networking/test/test_images/retry"
	_ "knative.dev/networking/test/test_images/runtime"
	_ "knative.dev/networking/test/test_images/timeout"
	_ "knative.dev/networking/test/test_images/wsserver"
)
